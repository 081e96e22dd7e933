// Microsoft Azure Attestation token ("Examples of an attestation token", learn.microsoft.com): a JWT (RFC 7519)
// in JWS compact serialisation (RFC 7515 section 7.1):
//   BASE64URL(header JSON) "." BASE64URL(claims JSON) "." BASE64URL(signature)
// Strict base64url (RFC 4648 section 5): alphabet A-Z a-z 0-9 - _, no padding, no whitespace, unused trailing
// bits zero. The header and claims are JSON objects (RFC 8259) nested at most 32 deep, without duplicate
// member names (RFC 7515 section 4, RFC 7519 section 4); the header's "alg" is a string, "kid" a string when
// present. The signature part may be empty (an unsigned token parses; the verifier refuses it). Trailing ASCII
// whitespace after the token (a file's final newline) is ignored. Tokens are at most 64 KiB.
using System.Text;
using System.Text.Json;

namespace Enclave.AttestationVerifier.Evidence.Maa;

/// <summary>A parsed Azure Attestation token whose signature, issuer and lifetime are not yet checked.</summary>
/// <param name="SigningInput">The ASCII bytes "header.payload" that the signature covers.</param>
/// <param name="Header">The JOSE header object.</param>
/// <param name="Claims">The claims object.</param>
/// <param name="Signature">The decoded signature (empty for an unsigned token).</param>
/// <param name="Algorithm">The header's alg.</param>
/// <param name="KeyId">The header's kid, or null.</param>
public sealed record UnverifiedMaaToken(
    byte[] SigningInput,
    JsonElement Header,
    JsonElement Claims,
    byte[] Signature,
    string Algorithm,
    string? KeyId);

/// <summary>Parses compact Azure Attestation tokens into <see cref="UnverifiedMaaToken"/>.</summary>
public static class MaaToken
{
    public const int MaxTokenLength = 64 * 1024;
    public const int MaxJsonDepth = 32;

    private static readonly JsonDocumentOptions s_jsonOptions = new()
    {
        MaxDepth = MaxJsonDepth,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
    };

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <exception cref="EvidenceFormatException">The bytes are not a well-formed compact JWS with JSON header and claims.</exception>
    public static UnverifiedMaaToken Parse(ReadOnlySpan<byte> token)
    {
        if (token.Length > MaxTokenLength)
        {
            throw Error(EvidenceFormatError.TooLarge, "token", 0, $"{token.Length} bytes; the limit is {MaxTokenLength}");
        }

        token = token.TrimEnd(" \t\r\n"u8);
        int firstDot = token.IndexOf((byte)'.');
        int secondDot = firstDot < 0 ? -1 : token[(firstDot + 1)..].IndexOf((byte)'.');
        if (firstDot < 0 || secondDot < 0)
        {
            throw Error(EvidenceFormatError.Truncated, "token", token.Length, "a compact JWS has three dot-separated parts");
        }

        secondDot += firstDot + 1;
        if (token[(secondDot + 1)..].IndexOf((byte)'.') >= 0)
        {
            throw Error(EvidenceFormatError.InvalidValue, "token", secondDot, "a compact JWS has exactly three parts (a JWE has five)");
        }

        ReadOnlySpan<byte> encodedHeader = token[..firstDot];
        ReadOnlySpan<byte> encodedClaims = token[(firstDot + 1)..secondDot];
        ReadOnlySpan<byte> encodedSignature = token[(secondDot + 1)..];
        if (encodedHeader.IsEmpty || encodedClaims.IsEmpty)
        {
            throw Error(EvidenceFormatError.MissingField, encodedHeader.IsEmpty ? "header" : "claims", 0, "the part is empty");
        }

        byte[] headerJson = DecodeBase64Url(encodedHeader, "header", 0);
        byte[] claimsJson = DecodeBase64Url(encodedClaims, "claims", firstDot + 1);
        byte[] signature = DecodeBase64Url(encodedSignature, "signature", secondDot + 1);
        JsonElement header = ParseObject(headerJson, "header", 0);
        JsonElement claims = ParseObject(claimsJson, "claims", firstDot + 1);

        string algorithm = header.TryGetProperty("alg", out JsonElement alg)
            ? alg.ValueKind == JsonValueKind.String
                ? alg.GetString()!
                : throw Error(EvidenceFormatError.UnexpectedType, "header.alg", 0, "alg is not a string")
            : throw Error(EvidenceFormatError.MissingField, "header.alg", 0, "the header has no alg");
        string? keyId = null;
        if (header.TryGetProperty("kid", out JsonElement kid))
        {
            keyId = kid.ValueKind == JsonValueKind.String
                ? kid.GetString()
                : throw Error(EvidenceFormatError.UnexpectedType, "header.kid", 0, "kid is not a string");
        }

        return new UnverifiedMaaToken(token[..secondDot].ToArray(), header, claims, signature, algorithm, keyId);
    }

    /// <summary>Strict base64url without padding; throws for any other character or non-zero unused bits.</summary>
    internal static byte[] DecodeBase64Url(ReadOnlySpan<byte> text, string field, int offset)
    {
        if (text.Length % 4 == 1)
        {
            throw Error(EvidenceFormatError.InvalidValue, field, offset, "the base64url length is impossible");
        }

        byte[] output = new byte[text.Length * 3 / 4];
        int bits = 0;
        int bitCount = 0;
        int written = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int value = text[i] switch
            {
                >= (byte)'A' and <= (byte)'Z' => text[i] - 'A',
                >= (byte)'a' and <= (byte)'z' => text[i] - 'a' + 26,
                >= (byte)'0' and <= (byte)'9' => text[i] - '0' + 52,
                (byte)'-' => 62,
                (byte)'_' => 63,
                _ => -1,
            };
            if (value < 0)
            {
                throw Error(EvidenceFormatError.InvalidValue, field, offset + i, $"byte 0x{text[i]:x2} is not base64url");
            }

            bits = (bits << 6) | value;
            bitCount += 6;
            if (bitCount >= 8)
            {
                bitCount -= 8;
                output[written++] = (byte)(bits >> bitCount);
                bits &= (1 << bitCount) - 1;
            }
        }

        if (bits != 0)
        {
            throw Error(EvidenceFormatError.InvalidValue, field, offset + text.Length - 1, "the unused bits of the last base64url character are not zero");
        }

        return output.AsSpan(0, written).ToArray();
    }

    private static JsonElement ParseObject(byte[] json, string field, int offset)
    {
        try
        {
            s_strictUtf8.GetCharCount(json);
        }
        catch (DecoderFallbackException)
        {
            throw Error(EvidenceFormatError.InvalidValue, field, offset, "the JSON is not valid UTF-8");
        }

        JsonElement root;
        try
        {
            using JsonDocument document = JsonDocument.Parse(json, s_jsonOptions);
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw Error(EvidenceFormatError.InvalidValue, field, offset, $"not valid JSON ({e.Message})");
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Error(EvidenceFormatError.UnexpectedType, field, offset, "the JSON is not an object");
        }

        CheckDuplicates(root, field, offset, 0);
        return root;
    }

    private static void CheckDuplicates(JsonElement element, string field, int offset, int depth)
    {
        if (depth > MaxJsonDepth)
        {
            throw Error(EvidenceFormatError.NestingTooDeep, field, offset, $"nested deeper than {MaxJsonDepth}");
        }

        if (element.ValueKind == JsonValueKind.Object)
        {
            HashSet<string> names = new(StringComparer.Ordinal);
            foreach (JsonProperty property in element.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw Error(EvidenceFormatError.DuplicateField, $"{field}.{property.Name}", offset, $"the member \"{property.Name}\" appears twice");
                }

                CheckDuplicates(property.Value, field, offset, depth + 1);
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in element.EnumerateArray())
            {
                CheckDuplicates(item, field, offset, depth + 1);
            }
        }
    }

    private static EvidenceFormatException Error(EvidenceFormatError code, string field, int offset, string detail) =>
        new(EvidenceFormat.Maa, code, field, offset, detail);
}
