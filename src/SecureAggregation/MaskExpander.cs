// Mask expansion: a 32-byte seed drives AES-256-CTR (Enclave.Crypto.AesCtrPrg), read as little-endian uint32
// ring elements. Masks are added or subtracted in Z_2^32, so pairwise masks cancel in the sum exactly.
using System.Buffers;
using System.Runtime.InteropServices;
using Enclave.Crypto;

namespace Enclave.SecureAggregation;

public static class MaskExpander
{
    public const int SeedLength = 32;
    private const int BlockElements = 16 * 1024;

    /// <summary>vector[i] += sign * PRG(seed)[i] (mod 2^32), sign = +1 when <paramref name="add"/>, else -1.</summary>
    public static void Apply(Span<uint> vector, ReadOnlySpan<byte> seed, bool add)
    {
        if (seed.Length != SeedLength)
        {
            throw new ArgumentException($"a mask seed is {SeedLength} bytes", nameof(seed));
        }

        uint[] rented = ArrayPool<uint>.Shared.Rent(BlockElements);
        try
        {
            ulong block = 0;
            for (int offset = 0; offset < vector.Length; offset += BlockElements)
            {
                int count = Math.Min(BlockElements, vector.Length - offset);
                Span<uint> mask = rented.AsSpan(0, count);
                Span<byte> bytes = MemoryMarshal.AsBytes(mask);
                AesCtrPrg.Fill(seed, bytes, block);
                block += (ulong)(bytes.Length / 16);
                if (!BitConverter.IsLittleEndian)
                {
                    for (int i = 0; i < mask.Length; i++)
                    {
                        mask[i] = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(mask[i]);
                    }
                }

                Span<uint> target = vector.Slice(offset, count);
                if (add)
                {
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = unchecked(target[i] + mask[i]);
                    }
                }
                else
                {
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = unchecked(target[i] - mask[i]);
                    }
                }
            }
        }
        finally
        {
            ArrayPool<uint>.Shared.Return(rented, clearArray: true);
        }
    }
}
