// Pseudo-random generator: AES-256 in counter mode (NIST SP 800-38A section 6.5) over an all-zero
// plaintext. Counter block j is the 128-bit big-endian integer (initial counter + j) mod 2^128, the
// standard incrementing function over the whole block (SP 800-38A appendix B.1 with m = 128).
// Fill starts at the counter 0^64 ‖ startBlock, i.e. a zero IV prefix, so output byte k of
// Fill(key, ..., startBlock) is keystream byte 16·startBlock + k. Counters are written in batches and
// encrypted in place with one Aes.EncryptEcb call per batch. Nothing is cached between calls.

using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Enclave.Crypto;

/// <summary>Deterministic keystream from a 256-bit seed: AES-256-CTR with a 128-bit big-endian counter.</summary>
public static class AesCtrPrg
{
    public const int KeySize = 32;
    public const int BlockSize = 16;

    private const int BatchBytes = 64 * 1024;

    /// <summary>Fills <paramref name="output"/> with keystream starting at counter block <paramref name="startBlock"/>.</summary>
    /// <exception cref="ArgumentException">The key is not 32 bytes.</exception>
    public static void Fill(ReadOnlySpan<byte> key32, Span<byte> output, ulong startBlock = 0)
    {
        CheckKey(key32);
        FillCore(key32, 0, startBlock, output);
    }

    /// <summary>Fills <paramref name="output"/> with keystream whose first counter block is
    /// <paramref name="initialCounter"/> (16 bytes, a 128-bit big-endian integer).
    /// <c>Fill(key, output, s)</c> equals this with the counter 0^64 ‖ s (big-endian).</summary>
    /// <exception cref="ArgumentException">The key is not 32 bytes or the counter is not 16 bytes.</exception>
    public static void FillFromCounter(ReadOnlySpan<byte> key32, ReadOnlySpan<byte> initialCounter, Span<byte> output)
    {
        CheckKey(key32);
        if (initialCounter.Length != BlockSize)
        {
            throw new ArgumentException("The initial counter block must be 16 bytes.", nameof(initialCounter));
        }

        FillCore(
            key32,
            BinaryPrimitives.ReadUInt64BigEndian(initialCounter),
            BinaryPrimitives.ReadUInt64BigEndian(initialCounter.Slice(8)),
            output);
    }

    private static void CheckKey(ReadOnlySpan<byte> key32)
    {
        if (key32.Length != KeySize)
        {
            throw new ArgumentException("The PRG key must be 32 bytes (AES-256).", nameof(key32));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillCore(ReadOnlySpan<byte> key32, ulong high, ulong low, Span<byte> output)
    {
        if (output.IsEmpty)
        {
            return;
        }

        using Aes aes = Aes.Create();
        byte[] keyCopy = key32.ToArray();
        try
        {
            aes.Key = keyCopy;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(keyCopy);
        }

        int wholeBytes = output.Length / BlockSize * BlockSize;
        for (int offset = 0; offset < wholeBytes; offset += BatchBytes)
        {
            Span<byte> batch = output.Slice(offset, Math.Min(BatchBytes, wholeBytes - offset));
            for (int b = 0; b < batch.Length; b += BlockSize)
            {
                BinaryPrimitives.WriteUInt64BigEndian(batch.Slice(b), high);
                BinaryPrimitives.WriteUInt64BigEndian(batch.Slice(b + 8), low);
                Increment(ref high, ref low);
            }

            aes.EncryptEcb(batch, batch, PaddingMode.None);
        }

        int rest = output.Length - wholeBytes;
        if (rest > 0)
        {
            Span<byte> block = stackalloc byte[BlockSize];
            BinaryPrimitives.WriteUInt64BigEndian(block, high);
            BinaryPrimitives.WriteUInt64BigEndian(block.Slice(8), low);
            aes.EncryptEcb(block, block, PaddingMode.None);
            block.Slice(0, rest).CopyTo(output.Slice(wholeBytes));
            CryptographicOperations.ZeroMemory(block);
        }
    }

    private static void Increment(ref ulong high, ref ulong low)
    {
        low++;
        if (low == 0)
        {
            high++;
        }
    }
}
