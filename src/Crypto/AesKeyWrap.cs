// AES Key Wrap (RFC 3394 section 2.2): 128-, 192- or 256-bit KEK; key data of n ≥ 2 64-bit blocks;
// default initial value A6A6A6A6A6A6A6A6; output is 8 bytes longer than the input. Each step is one
// AES block operation through one ECB transform kept for the whole wrap (Aes.EncryptEcb would set up a new
// cipher context for every block).

using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Enclave.Crypto;

/// <summary>RFC 3394 AES Key Wrap with the default initial value.</summary>
public static class AesKeyWrap
{
    private const int BlockSize = 8;
    private const ulong DefaultIv = 0xA6A6A6A6A6A6A6A6;

    /// <exception cref="ArgumentException">The KEK is not 16, 24 or 32 bytes, or the key data is not a
    /// multiple of 8 bytes of at least 16.</exception>
    public static byte[] Wrap(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> keyData)
    {
        CheckKek(kek);
        if (keyData.Length < 2 * BlockSize || keyData.Length % BlockSize != 0)
        {
            throw new ArgumentException("Key data must be a multiple of 8 bytes and at least 16 bytes.", nameof(keyData));
        }

        byte[] wrapped = new byte[keyData.Length + BlockSize];
        WrapCore(kek, keyData, wrapped);
        return wrapped;
    }

    /// <exception cref="ArgumentException">The KEK is not 16, 24 or 32 bytes, or the wrapped data is not a
    /// multiple of 8 bytes of at least 24.</exception>
    /// <exception cref="CryptographicException">The integrity check failed (wrong KEK or altered data).</exception>
    public static byte[] Unwrap(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> wrapped)
    {
        CheckKek(kek);
        if (wrapped.Length < 3 * BlockSize || wrapped.Length % BlockSize != 0)
        {
            throw new ArgumentException("Wrapped data must be a multiple of 8 bytes and at least 24 bytes.", nameof(wrapped));
        }

        byte[] keyData = new byte[wrapped.Length - BlockSize];
        if (!TryUnwrapCore(kek, wrapped, keyData))
        {
            throw new CryptographicException("AES key unwrap failed the integrity check.");
        }

        return keyData;
    }

    private static void CheckKek(ReadOnlySpan<byte> kek)
    {
        if (kek.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException("The KEK must be 16, 24 or 32 bytes.", nameof(kek));
        }
    }

    private static void WrapCore(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> keyData, Span<byte> output)
    {
        int n = keyData.Length / BlockSize;
        Span<byte> r = output.Slice(BlockSize);
        keyData.CopyTo(r);
        byte[] input = new byte[16];
        byte[] block = new byte[16];
        using Aes aes = CreateAes(kek);
        using ICryptoTransform encryptor = aes.CreateEncryptor();
        ulong a = DefaultIv;
        for (int j = 0; j <= 5; j++)
        {
            for (int i = 0; i < n; i++)
            {
                Span<byte> ri = r.Slice(i * BlockSize, BlockSize);
                BinaryPrimitives.WriteUInt64BigEndian(input, a);
                ri.CopyTo(input.AsSpan(BlockSize));
                encryptor.TransformBlock(input, 0, 16, block, 0);
                a = BinaryPrimitives.ReadUInt64BigEndian(block) ^ (ulong)((n * j) + i + 1);
                block.AsSpan(BlockSize).CopyTo(ri);
            }
        }

        BinaryPrimitives.WriteUInt64BigEndian(output, a);
        CryptographicOperations.ZeroMemory(input);
        CryptographicOperations.ZeroMemory(block);
    }

    private static bool TryUnwrapCore(ReadOnlySpan<byte> kek, ReadOnlySpan<byte> wrapped, Span<byte> output)
    {
        int n = (wrapped.Length / BlockSize) - 1;
        wrapped.Slice(BlockSize).CopyTo(output);
        ulong a = BinaryPrimitives.ReadUInt64BigEndian(wrapped);
        byte[] input = new byte[16];
        byte[] block = new byte[16];
        using Aes aes = CreateAes(kek);
        using ICryptoTransform decryptor = aes.CreateDecryptor();
        for (int j = 5; j >= 0; j--)
        {
            for (int i = n - 1; i >= 0; i--)
            {
                Span<byte> ri = output.Slice(i * BlockSize, BlockSize);
                BinaryPrimitives.WriteUInt64BigEndian(input, a ^ (ulong)((n * j) + i + 1));
                ri.CopyTo(input.AsSpan(BlockSize));
                decryptor.TransformBlock(input, 0, 16, block, 0);
                a = BinaryPrimitives.ReadUInt64BigEndian(block);
                block.AsSpan(BlockSize).CopyTo(ri);
            }
        }

        CryptographicOperations.ZeroMemory(input);
        CryptographicOperations.ZeroMemory(block);
        Span<byte> check = stackalloc byte[BlockSize];
        Span<byte> expected = stackalloc byte[BlockSize];
        BinaryPrimitives.WriteUInt64BigEndian(check, a);
        BinaryPrimitives.WriteUInt64BigEndian(expected, DefaultIv);
        if (!CryptographicOperations.FixedTimeEquals(check, expected))
        {
            CryptographicOperations.ZeroMemory(output);
            return false;
        }

        return true;
    }

    private static Aes CreateAes(ReadOnlySpan<byte> kek)
    {
        var aes = Aes.Create();
        aes.Mode = CipherMode.ECB;
        aes.Padding = PaddingMode.None;
        byte[] key = kek.ToArray();
        try
        {
            aes.Key = key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }

        return aes;
    }
}
