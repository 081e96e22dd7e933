// Base64url without padding (RFC 4648 section 5, as profiled by RFC 7515 section 2 and appendix C).
// Decoding is strict: no padding, no whitespace, only the 64 alphabet characters, and unused trailing
// bits must be zero, so every byte string has exactly one accepted encoding.
// The codec is System.Buffers.Text.Base64Url, which already refuses non-zero unused bits and impossible
// lengths; it also skips whitespace and accepts padding, so those are refused here before decoding.

using System.Buffers;
using SystemBase64Url = System.Buffers.Text.Base64Url;

namespace Enclave.Crypto;

/// <summary>Unpadded base64url (RFC 4648 section 5) with strict, canonical decoding.</summary>
public static class Base64Url
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    private static readonly SearchValues<char> s_alphabet = SearchValues.Create(Alphabet);
    private static readonly SearchValues<byte> s_alphabetUtf8 = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"u8);

    public static string Encode(ReadOnlySpan<byte> data) => SystemBase64Url.EncodeToString(data);

    /// <summary>Number of characters <see cref="Encode"/> produces for <paramref name="byteCount"/> bytes.</summary>
    public static int GetEncodedLength(int byteCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byteCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(byteCount, int.MaxValue / 4 * 3);
        return SystemBase64Url.GetEncodedLength(byteCount);
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
        data = [];
        if (text.ContainsAnyExcept(s_alphabet))
        {
            return false;
        }

        byte[] result = new byte[SystemBase64Url.GetMaxDecodedLength(text.Length)];
        if (SystemBase64Url.DecodeFromChars(text, result, out int consumed, out int written) != OperationStatus.Done
            || consumed != text.Length)
        {
            return false;
        }

        data = written == result.Length ? result : result[..written];
        return true;
    }

    /// <summary>As <see cref="TryDecode(ReadOnlySpan{char}, out byte[])"/>, for ASCII text held as bytes.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> utf8Text, out byte[] data)
    {
        data = [];
        if (utf8Text.ContainsAnyExcept(s_alphabetUtf8))
        {
            return false;
        }

        byte[] result = new byte[SystemBase64Url.GetMaxDecodedLength(utf8Text.Length)];
        if (SystemBase64Url.DecodeFromUtf8(utf8Text, result, out int consumed, out int written) != OperationStatus.Done
            || consumed != utf8Text.Length)
        {
            return false;
        }

        data = written == result.Length ? result : result[..written];
        return true;
    }
}
