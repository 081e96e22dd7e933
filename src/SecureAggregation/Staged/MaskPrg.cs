// Mask expansion for the staged protocol: AES-256-CTR keystream (the 32-byte seed is the AES key; counter
// block j is the 128-bit big-endian integer j, as Enclave.Crypto.AesCtrPrg), read as little-endian uint32
// ring elements and added to or subtracted from a vector in Z_2^32. Every seed's keystream starts at counter 0,
// so the counter blocks are written once per instance (in batches, as long as the longest vector seen) and then
// encrypted under each seed with one Aes.EncryptEcb call per batch; the addition is vectorised.
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Enclave.SecureAggregation.Staged;

/// <summary>Adds or subtracts PRG(seed) to a ring vector, reusing its buffers across calls (not thread-safe).</summary>
public sealed class MaskPrg : IDisposable
{
    public const int SeedLength = 32;
    private const int BatchBytes = 128 * 1024;
    private const int BlockSize = 16;

    private readonly List<byte[]> _counterBatches = [];
    private readonly byte[] _keystream = new byte[BatchBytes];
    private readonly Aes _aes = Aes.Create();

    /// <summary>target[i] += sign * PRG(seed)[i] (mod 2^32), with sign +1 when <paramref name="add"/>.</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
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
            _aes.EncryptEcb(Counters(batch).AsSpan(0, bytes), _keystream.AsSpan(0, bytes), PaddingMode.None);
            ReadOnlySpan<uint> mask = MemoryMarshal.Cast<byte, uint>(_keystream.AsSpan(0, bytes))[..count];
            if (!BitConverter.IsLittleEndian)
            {
                throw new PlatformNotSupportedException("mask expansion assumes a little-endian platform");
            }

            Combine(target.Slice(offset, count), mask, add);
        }

        CryptographicOperations.ZeroMemory(_keystream);
    }

    private byte[] Counters(int batch)
    {
        while (_counterBatches.Count <= batch)
        {
            var counters = new byte[BatchBytes];
            ulong first = (ulong)_counterBatches.Count * (BatchBytes / BlockSize);
            for (int b = 0; b < BatchBytes; b += BlockSize)
            {
                BinaryPrimitives.WriteUInt64BigEndian(counters.AsSpan(b + 8, 8), first + (ulong)(b / BlockSize));
            }

            _counterBatches.Add(counters);
        }

        return _counterBatches[batch];
    }

    /// <summary>Keystream only (no addition), for measuring the raw PRG rate.</summary>
    public void Fill(Span<uint> target, ReadOnlySpan<byte> seed)
    {
        target.Clear();
        Apply(target, seed, add: true);
    }

    /// <summary>target[i] += (or -=) values[i] mod 2^32, vectorised.</summary>
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
