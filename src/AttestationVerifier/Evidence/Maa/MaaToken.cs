// Microsoft Azure Attestation token ("Examples of an attestation token", learn.microsoft.com): a JWT (RFC 7519)
// in JWS compact serialisation (RFC 7515 section 7.1):
//   BASE64URL(header JSON) "." BASE64URL(claims JSON) "." BASE64URL(signature)
// Strict base64url (RFC 4648 section 5): alphabet A-Z a-z 0-9 - _, no padding, no whitespace, unused trailing
// bits zero. The header and claims are JSON objects (RFC 8259) nested at most 32 deep, without duplicate
// member names (RFC 7515 section 4, RFC 7519 section 4), all read by Enclave.Crypto's CompactJws; the header's
// "alg" is a string, "kid" a string when present. The signature part may be empty (an unsigned token parses;
// the verifier refuses it). Trailing ASCII whitespace after the token (a file's final newline) is ignored.
// Tokens are at most 64 KiB.
using System.Text.Json;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Evidence.Maa;

/// <summary>A parsed Azure Attestation token whose signature, issuer and lifetime are not yet checked.</summary>
/// <param name="Jws">The compact JWS as read by the shared reader: header, signing input, signature.</param>
/// <param name="Claims">The claims object.</param>
/// <param name="Algorithm">The header's alg.</param>
/// <param name="KeyId">The header's kid, or null.</param>
public sealed record UnverifiedMaaToken(
    CompactJws Jws,
    JsonElement Claims,
    string Algorithm,
    string? KeyId)
{
    /// <summary>The JOSE header object.</summary>
    public JsonElement Header => Jws.Header;

    /// <summary>The decoded signature (empty for an unsigned token).</summary>
    public byte[] Signature => Jws.Signature;
}

/// <summary>Parses compact Azure Attestation tokens into <see cref="UnverifiedMaaToken"/> with <see cref="CompactJws"/>.</summary>
public static class MaaToken
{
    public const int MaxTokenLength = CompactJws.MaxLength;

    /// <exception cref="EvidenceFormatException">The bytes are not a well-formed compact JWS with JSON header and claims.</exception>
    public static UnverifiedMaaToken Parse(ReadOnlySpan<byte> token)
    {
        if (token.Length > MaxTokenLength)
        {
            throw Error(EvidenceFormatError.TooLarge, "token", 0, $"{token.Length} bytes; the limit is {MaxTokenLength}");
        }

        token = token.TrimEnd(" \t\r\n"u8);
        CompactJws jws;
        JsonElement claims;
        try
        {
            jws = CompactJws.Parse(token);
            if (jws.EncodedPayloadLength == 0)
            {
                throw Error(EvidenceFormatError.MissingField, "claims", 0, "the part is empty");
            }

            // Decoded here so that a token that parses has a well-formed signature part too.
            _ = jws.Signature;
            claims = jws.ParsePayloadObject();
        }
        catch (JoseException e)
        {
            throw Error(e);
        }

        string algorithm = jws.Header.TryGetProperty("alg", out JsonElement alg)
            ? alg.ValueKind == JsonValueKind.String
                ? alg.GetString()!
                : throw Error(EvidenceFormatError.UnexpectedType, "header.alg", 0, "alg is not a string")
            : throw Error(EvidenceFormatError.MissingField, "header.alg", 0, "the header has no alg");
        string? keyId = null;
        if (jws.Header.TryGetProperty("kid", out JsonElement kid))
        {
            keyId = kid.ValueKind == JsonValueKind.String
                ? kid.GetString()
                : throw Error(EvidenceFormatError.UnexpectedType, "header.kid", 0, "kid is not a string");
        }

        return new UnverifiedMaaToken(jws, claims, algorithm, keyId);
    }

    // The shared reader's faults in this parser's codes; the part names are the ones this format documents.
    private static EvidenceFormatException Error(JoseException e)
    {
        JwsFormatError where = e.FormatError ?? new JwsFormatError(JwsFormatFault.InvalidJson, "token", 0);
        EvidenceFormatError code = where.Fault switch
        {
            JwsFormatFault.TooLong => EvidenceFormatError.TooLarge,
            JwsFormatFault.TooFewParts => EvidenceFormatError.Truncated,
            JwsFormatFault.EmptyHeader => EvidenceFormatError.MissingField,
            JwsFormatFault.NotAnObject => EvidenceFormatError.UnexpectedType,
            _ => EvidenceFormatError.InvalidValue,
        };
        return Error(code, where.Part == "payload" ? "claims" : where.Part, where.Offset, e.Message);
    }

    private static EvidenceFormatException Error(EvidenceFormatError code, string field, int offset, string detail) =>
        new(EvidenceFormat.Maa, code, field, offset, detail);
}
