// Arithmetic in GF(p), p = 2^521 - 1 (a Mersenne prime), for Shamir sharing of 256-bit secrets.
// Elements are nine little-endian 64-bit limbs, canonical (< p). Reduction folds the bits above 521 back
// onto the low bits, since 2^521 = 1 (mod p). Encoded form: 66 bytes, big-endian, value < p.
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Enclave.SecureAggregation.Staged;

/// <summary>An element of GF(2^521 - 1).</summary>
[InlineArray(Limbs)]
internal struct Field521
{
    public const int Limbs = 9;
    public const int EncodedLength = 66;
    private const ulong TopMask = 0x1FF;

    private ulong _limb;

    public static Field521 Zero => default;

    public static Field521 FromUInt64(ulong value)
    {
        Field521 r = default;
        r[0] = value;
        return r;
    }

    /// <summary>Reads an unsigned big-endian integer below p (at most 66 bytes).</summary>
    /// <exception cref="ArgumentException">The value is not below p.</exception>
    public static Field521 FromBigEndian(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > EncodedLength)
        {
            throw new ArgumentException($"a field element is at most {EncodedLength} bytes", nameof(bytes));
        }

        Span<byte> padded = stackalloc byte[72];
        padded.Clear();
        bytes.CopyTo(padded[(72 - bytes.Length)..]);
        Field521 r = default;
        for (int i = 0; i < Limbs; i++)
        {
            r[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(padded.Slice(72 - (8 * (i + 1)), 8));
        }

        if ((r[8] >> 9) != 0 || IsP(r))
        {
            throw new ArgumentException("the value is not below the field prime 2^521-1", nameof(bytes));
        }

        return r;
    }

    public static Field521 Random()
    {
        Span<byte> bytes = stackalloc byte[EncodedLength];
        while (true)
        {
            RandomNumberGenerator.Fill(bytes);
            bytes[0] &= 0x01;
            Field521 r = default;
            for (int i = 0; i < Limbs; i++)
            {
                r[i] = ReadLimb(bytes, i);
            }

            if (!IsP(r))
            {
                CryptographicOperations.ZeroMemory(bytes);
                return r;
            }
        }
    }

    public readonly void WriteBigEndian(Span<byte> destination)
    {
        if (destination.Length != EncodedLength)
        {
            throw new ArgumentException($"a field element encodes to {EncodedLength} bytes", nameof(destination));
        }

        Span<byte> padded = stackalloc byte[72];
        for (int i = 0; i < Limbs; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(padded.Slice(72 - (8 * (i + 1)), 8), this[i]);
        }

        padded[6..].CopyTo(destination);
    }

    public readonly bool IsZero
    {
        get
        {
            for (int i = 0; i < Limbs; i++)
            {
                if (this[i] != 0)
                {
                    return false;
                }
            }

            return true;
        }
    }

    public static Field521 Add(in Field521 a, in Field521 b)
    {
        Field521 r = default;
        ulong carry = 0;
        for (int i = 0; i < Limbs; i++)
        {
            UInt128 s = (UInt128)a[i] + b[i] + carry;
            r[i] = (ulong)s;
            carry = (ulong)(s >> 64);
        }

        Reduce(ref r);
        return r;
    }

    public static Field521 Negate(in Field521 a)
    {
        if (a.IsZero)
        {
            return a;
        }

        Field521 r = default;
        for (int i = 0; i < Limbs - 1; i++)
        {
            r[i] = ~a[i];
        }

        r[8] = TopMask & ~a[8];
        return r;
    }

    /// <summary>a * x + c for a small multiplier x (any 64-bit value).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Field521 MulSmallAdd(in Field521 a, ulong x, in Field521 c)
    {
        Span<ulong> product = stackalloc ulong[Limbs + 1];
        ulong carry = 0;
        for (int i = 0; i < Limbs; i++)
        {
            UInt128 p = ((UInt128)a[i] * x) + carry;
            product[i] = (ulong)p;
            carry = (ulong)(p >> 64);
        }

        product[Limbs] = carry;

        // value = low + high where low = bits [0, 521) and high = bits [521, 585).
        ulong high = (product[8] >> 9) | (product[9] << 55);
        Field521 r = default;
        ulong k = 0;
        for (int i = 0; i < Limbs; i++)
        {
            ulong low = i == 8 ? product[8] & TopMask : product[i];
            UInt128 s = (UInt128)low + c[i] + k + (i == 0 ? high : 0UL);
            r[i] = (ulong)s;
            k = (ulong)(s >> 64);
        }

        Reduce(ref r);
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Field521 Mul(in Field521 a, in Field521 b)
    {
        Span<ulong> t = stackalloc ulong[2 * Limbs];
        t.Clear();
        for (int i = 0; i < Limbs; i++)
        {
            ulong ai = a[i];
            if (ai == 0)
            {
                continue;
            }

            ulong carry = 0;
            for (int j = 0; j < Limbs; j++)
            {
                UInt128 p = ((UInt128)ai * b[j]) + t[i + j] + carry;
                t[i + j] = (ulong)p;
                carry = (ulong)(p >> 64);
            }

            t[i + Limbs] = carry;
        }

        // high = t >> 521: limb i of high is (t[8+i] >> 9) | (t[9+i] << 55).
        Field521 r = default;
        ulong k = 0;
        for (int i = 0; i < Limbs; i++)
        {
            ulong low = i == 8 ? t[8] & TopMask : t[i];
            ulong high = (t[8 + i] >> 9) | (i + 9 < 2 * Limbs ? t[9 + i] << 55 : 0UL);
            UInt128 s = (UInt128)low + high + k;
            r[i] = (ulong)s;
            k = (ulong)(s >> 64);
        }

        Reduce(ref r);
        return r;
    }

    /// <summary>a^(p-2) = a^-1 for a non-zero a.</summary>
    /// <exception cref="ArgumentException">a is zero.</exception>
    public static Field521 Inverse(in Field521 a)
    {
        if (a.IsZero)
        {
            throw new ArgumentException("zero has no inverse", nameof(a));
        }

        // p - 2 = 2^521 - 3: bits 520..2 set, bit 1 clear, bit 0 set.
        Field521 result = a;
        for (int bit = 519; bit >= 0; bit--)
        {
            result = Mul(result, result);
            if (bit != 1)
            {
                result = Mul(result, a);
            }
        }

        return result;
    }

    public static bool Equal(in Field521 a, in Field521 b)
    {
        for (int i = 0; i < Limbs; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }

        return true;
    }

    private static ulong ReadLimb(ReadOnlySpan<byte> bigEndian66, int limb)
    {
        ulong value = 0;
        for (int b = 7; b >= 0; b--)
        {
            int index = EncodedLength - 1 - ((limb * 8) + b);
            value = (value << 8) | (index >= 0 ? bigEndian66[index] : (byte)0);
        }

        return value;
    }

    /// <summary>Brings a value below 2^576 into canonical form.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Reduce(ref Field521 r)
    {
        while ((r[8] >> 9) != 0)
        {
            ulong high = r[8] >> 9;
            r[8] &= TopMask;
            ulong carry = high;
            for (int i = 0; i < Limbs && carry != 0; i++)
            {
                UInt128 s = (UInt128)r[i] + carry;
                r[i] = (ulong)s;
                carry = (ulong)(s >> 64);
            }
        }

        if (IsP(r))
        {
            r = default;
        }
    }

    private static bool IsP(in Field521 r)
    {
        for (int i = 0; i < Limbs - 1; i++)
        {
            if (r[i] != ulong.MaxValue)
            {
                return false;
            }
        }

        return r[8] == TopMask;
    }
}
