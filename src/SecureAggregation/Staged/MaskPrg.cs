// Mask expansion for the staged protocol: AES-256-CTR keystream (the 32-byte seed is the AES key; counter
// block j is the 128-bit big-endian integer j, as Enclave.Crypto.AesCtrPrg), read as little-endian uint32
// ring elements and added to or subtracted from a vector in Z_2^32.
//
// A client applies one mask per neighbour plus its self mask, and the server regenerates thousands, all over
// the same vector. Applying them one after the other streams the whole vector through memory once per mask,
// which costs as much as the AES itself at these rates. ApplyAll instead walks the vector in cache-sized
// chunks and applies every mask of a group (one key schedule each) to a chunk before moving on, so the vector
// crosses memory once per group of masks. Counter blocks are encrypted with one TransformBlock call per chunk
// and mask on an ECB encryptor made once per mask (Aes.EncryptEcb sets a cipher context up on every call,
// which costs a fifth of the throughput at these chunk sizes). Block j = ChunkBlocks * c + i (i < ChunkBlocks) has the bits of c and i disjoint, so chunk c's
// counters are a fixed template (the i part, written once) OR-ed with c * ChunkBlocks: a vectorised pass, made
// once per chunk for the whole group. The addition into the target is vectorised too.
using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;

namespace Enclave.SecureAggregation.Staged;

/// <summary>One mask to apply: PRG(<see cref="Seed"/>) added to the target, or subtracted when <see cref="Add"/> is false.</summary>
public readonly record struct MaskSeed(byte[] Seed, bool Add);

/// <summary>Adds or subtracts PRG(seed) to a ring vector, reusing its buffers across calls (not thread-safe).</summary>
public sealed class MaskPrg : IDisposable
{
    public const int SeedLength = 32;

    /// <summary>Masks applied together in one pass over the target.</summary>
    public const int GroupSize = 64;

    private const int ChunkBytes = 64 * 1024;
    private const int BlockSize = 16;
    private const int ChunkBlocks = ChunkBytes / BlockSize;

    private readonly byte[] _template = new byte[ChunkBytes];
    private readonly byte[] _counters = new byte[ChunkBytes];
    private readonly byte[] _keystream = new byte[ChunkBytes];
    private readonly List<Aes> _ciphers = [];
    private readonly List<ICryptoTransform> _encryptors = [];

    public MaskPrg()
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("mask expansion assumes a little-endian platform");
        }

        for (int i = 0; i < ChunkBlocks; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(_template.AsSpan((i * BlockSize) + 8, 8), (ulong)i);
        }
    }

    /// <summary>target[i] += sign * PRG(seed)[i] (mod 2^32), with sign +1 when <paramref name="add"/>.</summary>
    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public void Apply(Span<uint> target, byte[] seed, bool add) => ApplyAll(target, [new MaskSeed(seed, add)]);

    /// <summary>Applies every mask to <paramref name="target"/>; the result equals applying them one by one.</summary>
    /// <exception cref="ArgumentException">A seed is not 32 bytes (checked before the target is touched).</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ApplyAll(Span<uint> target, ReadOnlySpan<MaskSeed> masks)
    {
        foreach (MaskSeed mask in masks)
        {
            if (mask.Seed is null || mask.Seed.Length != SeedLength)
            {
                throw new ArgumentException($"a mask seed is {SeedLength} bytes", nameof(masks));
            }
        }

        const int perChunk = ChunkBytes / sizeof(uint);
        for (int first = 0; first < masks.Length; first += GroupSize)
        {
            ReadOnlySpan<MaskSeed> group = masks.Slice(first, Math.Min(GroupSize, masks.Length - first));
            for (int m = 0; m < group.Length; m++)
            {
                Aes cipher = Cipher(m);
                cipher.Key = group[m].Seed;
                _encryptors.Add(cipher.CreateEncryptor());
            }

            for (int offset = 0, chunk = 0; offset < target.Length; offset += perChunk, chunk++)
            {
                int count = Math.Min(perChunk, target.Length - offset);
                int bytes = ((count * sizeof(uint)) + BlockSize - 1) / BlockSize * BlockSize;
                SetCounters(chunk, bytes);
                Span<uint> slice = target.Slice(offset, count);
                ReadOnlySpan<uint> values = MemoryMarshal.Cast<byte, uint>(_keystream.AsSpan(0, bytes))[..count];
                for (int m = 0; m < group.Length; m++)
                {
                    _encryptors[m].TransformBlock(_counters, 0, bytes, _keystream, 0);
                    Combine(slice, values, group[m].Add);
                }
            }

            DisposeEncryptors();
        }

        CryptographicOperations.ZeroMemory(_keystream);
    }

    private Aes Cipher(int index)
    {
        while (_ciphers.Count <= index)
        {
            Aes cipher = Aes.Create();
            cipher.Mode = CipherMode.ECB;
            cipher.Padding = PaddingMode.None;
            _ciphers.Add(cipher);
        }

        return _ciphers[index];
    }

    private void DisposeEncryptors()
    {
        foreach (ICryptoTransform encryptor in _encryptors)
        {
            encryptor.Dispose();
        }

        _encryptors.Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SetCounters(int chunk, int bytes)
    {
        Span<byte> pattern = stackalloc byte[BlockSize];
        pattern.Clear();
        BinaryPrimitives.WriteUInt64BigEndian(pattern[8..], (ulong)chunk * ChunkBlocks);
        Vector128<byte> or = Vector128.Create((ReadOnlySpan<byte>)pattern);
        ReadOnlySpan<Vector128<byte>> template = MemoryMarshal.Cast<byte, Vector128<byte>>(_template.AsSpan(0, bytes));
        Span<Vector128<byte>> counters = MemoryMarshal.Cast<byte, Vector128<byte>>(_counters.AsSpan(0, bytes));
        for (int k = 0; k < counters.Length; k++)
        {
            counters[k] = template[k] | or;
        }
    }

    /// <summary>Keystream only (no addition), for measuring the raw PRG rate.</summary>
    public void Fill(Span<uint> target, byte[] seed)
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
        DisposeEncryptors();
        foreach (Aes cipher in _ciphers)
        {
            cipher.Dispose();
        }

        _ciphers.Clear();
        CryptographicOperations.ZeroMemory(_keystream);
    }
}
