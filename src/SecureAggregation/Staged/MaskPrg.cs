// Mask expansion for the staged protocol: AES-256-CTR keystream (the 32-byte seed is the AES key; counter
// block j is the 128-bit big-endian integer j, as Enclave.Crypto.AesCtrPrg), read as little-endian uint32
// ring elements and added to or subtracted from a vector in Z_2^32. Counter blocks are encrypted in batches of
// 8192 blocks with one Aes.EncryptEcb call per batch. Block j = 8192 b + i (i < 8192) has the bits of b and i
// disjoint, so batch b's counters are a fixed template (the i part, written once) OR-ed with b << 13 in the low
// counter word: a vectorised pass over a cache-resident buffer instead of one scalar write per block. The
// addition into the target is vectorised too.
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;

namespace Enclave.SecureAggregation.Staged;

/// <summary>Adds or subtracts PRG(seed) to a ring vector, reusing its buffers across calls (not thread-safe).</summary>
public sealed class MaskPrg : IDisposable
{
    public const int SeedLength = 32;
    private const int BatchBytes = 128 * 1024;
    private const int BlockSize = 16;

    private const int BatchBlocks = BatchBytes / BlockSize;
    private const int BatchShift = 13;

    private readonly byte[] _template = new byte[BatchBytes];
    private readonly byte[] _counters = new byte[BatchBytes];
    private readonly byte[] _keystream = new byte[BatchBytes];
    private readonly Aes _aes = Aes.Create();

    public MaskPrg()
    {
        for (int i = 0; i < BatchBlocks; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(_template.AsSpan((i * BlockSize) + 8, 8), (ulong)i);
        }
    }

    /// <summary>target[i] += sign * PRG(seed)[i] (mod 2^32), with sign +1 when <paramref name="add"/>.</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Apply(Span<uint> target, ReadOnlySpan<byte> seed, bool add)
    {
        if (seed.Length != SeedLength)
        {
            throw new ArgumentException($"a mask seed is {SeedLength} bytes", nameof(seed));
        }

        _aes.SetKey(seed);
        int perBatch = BatchBytes / sizeof(uint);
        for (int offset = 0, batch = 0; offset < target.Length; offset += perBatch, batch++)
        {
            int count = Math.Min(perBatch, target.Length - offset);
            int bytes = ((count * sizeof(uint)) + BlockSize - 1) / BlockSize * BlockSize;
            SetCounters(batch, bytes);
            _aes.EncryptEcb(_counters.AsSpan(0, bytes), _keystream.AsSpan(0, bytes), PaddingMode.None);
            ReadOnlySpan<uint> mask = MemoryMarshal.Cast<byte, uint>(_keystream.AsSpan(0, bytes))[..count];
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException("mask expansion assumes a little-endian platform");
            }

            Combine(target.Slice(offset, count), mask, add);
        }

        CryptographicOperations.ZeroMemory(_keystream);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SetCounters(int batch, int bytes)
    {
        Span<byte> pattern = stackalloc byte[BlockSize];
        pattern.Clear();
        BinaryPrimitives.WriteUInt64BigEndian(pattern[8..], (ulong)batch << BatchShift);
        Vector128<byte> or = Vector128.Create((ReadOnlySpan<byte>)pattern);
        ReadOnlySpan<Vector128<byte>> template = MemoryMarshal.Cast<byte, Vector128<byte>>(_template.AsSpan(0, bytes));
        Span<Vector128<byte>> counters = MemoryMarshal.Cast<byte, Vector128<byte>>(_counters.AsSpan(0, bytes));
        for (int k = 0; k < counters.Length; k++)
        {
            counters[k] = template[k] | or;
        }
    }

    /// <summary>Keystream only (no addition), for measuring the raw PRG rate.</summary>
    public void Fill(Span<uint> target, ReadOnlySpan<byte> seed)
    {
        target.Clear();
        Apply(target, seed, add: true);
    }

    /// <summary>target[i] += (or -=) values[i] mod 2^32, vectorised.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Combine(Span<uint> target, ReadOnlySpan<uint> values, bool add)
    {
        if (values.Length != target.Length)
        {
            throw new ArgumentException("vectors differ in length", nameof(values));
        }

        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            Span<Vector<uint>> tv = MemoryMarshal.Cast<uint, Vector<uint>>(target);
            ReadOnlySpan<Vector<uint>> vv = MemoryMarshal.Cast<uint, Vector<uint>>(values);
            int n = Math.Min(tv.Length, vv.Length);
            if (add)
            {
                for (int k = 0; k < n; k++)
                {
                    tv[k] += vv[k];
                }
            }
            else
            {
                for (int k = 0; k < n; k++)
                {
                    tv[k] -= vv[k];
                }
            }

            i = n * Vector<uint>.Count;
        }

        for (; i < target.Length; i++)
        {
            target[i] = add ? unchecked(target[i] + values[i]) : unchecked(target[i] - values[i]);
        }
    }

    public void Dispose()
    {
        _aes.Dispose();
        CryptographicOperations.ZeroMemory(_keystream);
    }
}
