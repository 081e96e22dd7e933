// Base64url without padding (RFC 4648 section 5, as profiled by RFC 7515 section 2 and appendix C).
// Decoding is strict: no padding, no whitespace, only the 64 alphabet characters, and unused trailing
// bits must be zero, so every byte string has exactly one accepted encoding.

namespace Enclave.Crypto;

/// <summary>Unpadded base64url (RFC 4648 section 5) with strict, canonical decoding.</summary>
public static class Base64Url
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private static readonly sbyte[] s_decodeMap = BuildDecodeMap();

    public static string Encode(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return string.Empty;
        }

        int length = GetEncodedLength(data.Length);
        char[] buffer = new char[length];
        EncodeCore(data, buffer);
        return new string(buffer);
    }

    /// <summary>Number of characters <see cref="Encode"/> produces for <paramref name="byteCount"/> bytes.</summary>
    public static int GetEncodedLength(int byteCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byteCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(byteCount, int.MaxValue / 4 * 3);
        return (int)(((long)byteCount * 4 + 2) / 3);
    }

    /// <exception cref="FormatException">The text contains padding, whitespace, a character outside the
    /// base64url alphabet, an impossible length, or non-zero unused bits.</exception>
    public static byte[] Decode(ReadOnlySpan<char> text)
    {
        if (!TryDecode(text, out byte[] data))
        {
            throw new FormatException("The text is not valid unpadded base64url.");
        }

        return data;
    }

    public static bool TryDecode(ReadOnlySpan<char> text, out byte[] data)
    {
        if (text.Length % 4 == 1)
        {
            data = [];
            return false;
        }

        byte[] result = new byte[text.Length / 4 * 3 + Math.Max(0, text.Length % 4 - 1)];
        if (!TryDecodeCore(text, result))
        {
            data = [];
            return false;
        }

        data = result;
        return true;
    }

    private static void EncodeCore(ReadOnlySpan<byte> data, Span<char> destination)
    {
        int full = data.Length / 3 * 3;
        int o = 0;
        for (int i = 0; i < full; i += 3)
        {
            int v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
            destination[o++] = Alphabet[(v >> 18) & 0x3F];
            destination[o++] = Alphabet[(v >> 12) & 0x3F];
            destination[o++] = Alphabet[(v >> 6) & 0x3F];
            destination[o++] = Alphabet[v & 0x3F];
        }

        int rest = data.Length - full;
        if (rest == 1)
        {
            int v = data[full] << 16;
            destination[o++] = Alphabet[(v >> 18) & 0x3F];
            destination[o] = Alphabet[(v >> 12) & 0x3F];
        }
        else if (rest == 2)
        {
            int v = (data[full] << 16) | (data[full + 1] << 8);
            destination[o++] = Alphabet[(v >> 18) & 0x3F];
            destination[o++] = Alphabet[(v >> 12) & 0x3F];
            destination[o] = Alphabet[(v >> 6) & 0x3F];
        }
    }

    private static bool TryDecodeCore(ReadOnlySpan<char> text, Span<byte> destination)
    {
        int full = text.Length / 4 * 4;
        int o = 0;
        for (int i = 0; i < full; i += 4)
        {
            int a = Map(text[i]);
            int b = Map(text[i + 1]);
            int c = Map(text[i + 2]);
            int d = Map(text[i + 3]);
            if ((a | b | c | d) < 0)
            {
                return false;
            }

            int v = (a << 18) | (b << 12) | (c << 6) | d;
            destination[o++] = (byte)(v >> 16);
            destination[o++] = (byte)(v >> 8);
            destination[o++] = (byte)v;
        }

        int rest = text.Length - full;
        if (rest == 2)
        {
            int a = Map(text[full]);
            int b = Map(text[full + 1]);
            if ((a | b) < 0 || (b & 0x0F) != 0)
            {
                return false;
            }

            destination[o] = (byte)((a << 2) | (b >> 4));
        }
        else if (rest == 3)
        {
            int a = Map(text[full]);
            int b = Map(text[full + 1]);
            int c = Map(text[full + 2]);
            if ((a | b | c) < 0 || (c & 0x03) != 0)
            {
                return false;
            }

            int v = (a << 18) | (b << 12) | (c << 6);
            destination[o++] = (byte)(v >> 16);
            destination[o] = (byte)(v >> 8);
        }

        return true;
    }

    private static int Map(char c) => c < 128 ? s_decodeMap[c] : -1;

    private static sbyte[] BuildDecodeMap()
    {
        var map = new sbyte[128];
        Array.Fill(map, (sbyte)-1);
        for (int i = 0; i < Alphabet.Length; i++)
        {
            map[Alphabet[i]] = (sbyte)i;
        }

        return map;
    }
}
