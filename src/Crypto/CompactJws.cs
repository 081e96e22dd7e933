// The one reader of compact JWS (RFC 7515 section 7.1), and so of JWTs (RFC 7519) and Azure Attestation tokens:
//   BASE64URL(header JSON) "." BASE64URL(payload) "." BASE64URL(signature)
// At most 64 KiB, exactly three parts, a non-empty header. Each part is strict unpadded base64url (Base64Url:
// no padding, no whitespace, unused bits zero). The header is a JSON object read with JoseJson's one set of
// options (depth at most 32, no duplicate member names, RFC 7515 section 4), nested at most 16 deep, and
// holding only valid Unicode.
// Reading is split from checking: the header is read at once, the payload and signature only when first asked
// for, so each caller keeps its own order of checks and error codes. Signatures (RFC 7518 section 3): ES256
// and ES384 as 64- or 96-byte r‖s with r and s in [1, n − 1] (CVE-2022-21449), RS256 and PS256 as long as the
// RSA modulus; verified with System.Security.Cryptography.

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Enclave.Crypto;

/// <summary>Which rule of the compact serialisation a token broke.</summary>
public enum JwsFormatFault
{
    TooLong,
    TooFewParts,
    TooManyParts,
    EmptyHeader,
    InvalidBase64Url,
    InvalidJson,
    NotAnObject,
}

/// <summary>Where a compact JWS could not be read: the rule, the part ("token", "header", "payload",
/// "signature") and the offset of that part (or of the offending byte) in the token.</summary>
public sealed record JwsFormatError(JwsFormatFault Fault, string Part, int Offset);

/// <summary>The outcome of <see cref="CompactJws.VerifySignature"/>.</summary>
public enum JwsSignatureStatus
{
    Valid,
    Invalid,
    WrongLength,
    ScalarOutOfRange,
    WrongKeyType,
    UnsupportedAlgorithm,
}

/// <summary>A compact JWS that has been split and decoded but whose signature is not yet checked.</summary>
public sealed class CompactJws
{
    public const int MaxLength = 64 * 1024;

    /// <summary>The one set of JSON reader options for JOSE headers, JWT claims and JWK sets: depth at most 32,
    /// no trailing commas or comments, no duplicate member names.</summary>
    public static readonly JsonDocumentOptions JsonOptions = JoseJson.DocumentOptions;

    // A header needs no deep nesting (an embedded jwk is two levels); the broker has always refused more than this.
    private const int MaxHeaderDepth = 16;

    private readonly byte[] _token;
    private readonly int _payloadStart;
    private readonly int _signatureStart;
    private byte[]? _payload;
    private byte[]? _signature;
    private JsonElement? _payloadObject;

    private CompactJws(byte[] token, int payloadStart, int signatureStart, JsonElement header)
    {
        _token = token;
        _payloadStart = payloadStart;
        _signatureStart = signatureStart;
        Header = header;
    }

    /// <summary>The protected header, a JSON object.</summary>
    public JsonElement Header { get; }

    /// <summary>The ASCII bytes "header.payload" that the signature covers.</summary>
    public ReadOnlyMemory<byte> SigningInput => _token.AsMemory(0, _signatureStart - 1);

    /// <summary>Length of the encoded payload part (zero for an empty payload).</summary>
    public int EncodedPayloadLength => _signatureStart - 1 - _payloadStart;

    /// <summary>Offset of the payload part in the token.</summary>
    public int PayloadOffset => _payloadStart;

    /// <summary>The decoded payload.</summary>
    /// <exception cref="JoseException">The payload is not strict base64url (<see cref="JoseError.Malformed"/>).</exception>
    public byte[] Payload => _payload ??= Decode(_payloadStart, EncodedPayloadLength, "payload");

    /// <summary>The decoded signature (empty for an empty part).</summary>
    /// <exception cref="JoseException">The signature is not strict base64url (<see cref="JoseError.Malformed"/>).</exception>
    public byte[] Signature => _signature ??= Decode(_signatureStart, _token.Length - _signatureStart, "signature");

    /// <summary>Splits a compact JWS and reads its header.</summary>
    /// <exception cref="JoseException">Not a compact JWS with a JSON object header (<see cref="JoseError.Malformed"/>,
    /// with <see cref="JoseException.FormatError"/> set).</exception>
    public static CompactJws Parse(string compact)
    {
        ArgumentNullException.ThrowIfNull(compact);
        if (compact.Length > MaxLength)
        {
            throw Fault(JwsFormatFault.TooLong, "token", 0, $"The JWS is longer than {MaxLength} characters.");
        }

        // Non-ASCII characters become '?', which no part may hold, so the byte form refuses what the text would.
        return ParseCore(Encoding.ASCII.GetBytes(compact));
    }

    /// <inheritdoc cref="Parse(string)"/>
    public static CompactJws Parse(ReadOnlySpan<byte> compact)
    {
        if (compact.Length > MaxLength)
        {
            throw Fault(JwsFormatFault.TooLong, "token", 0, $"The JWS is {compact.Length} bytes; the limit is {MaxLength}.");
        }

        return ParseCore(compact.ToArray());
    }

    /// <summary>Whether the header has the member, whatever its value.</summary>
    public bool HasHeader(string name) => Header.TryGetProperty(name, out _);

    /// <summary>The header member as a string: false when it is present with another type.</summary>
    public bool TryGetHeaderString(string name, out string? value)
    {
        value = null;
        if (!Header.TryGetProperty(name, out JsonElement element))
        {
            return true;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        value = element.GetString();
        return true;
    }

    /// <summary>The header member as a string, or null when absent.</summary>
    /// <exception cref="JoseException">The member is present with another type (<see cref="JoseError.Malformed"/>).</exception>
    public string? GetHeaderString(string name) =>
        TryGetHeaderString(name, out string? value)
            ? value
            : throw new JoseException(JoseError.Malformed, $"The JWS header member \"{name}\" must be a string.");

    /// <summary>Parses the payload as a JSON object (a JWT claims set) with the same rules as the header, once.</summary>
    /// <exception cref="JoseException">The payload is not strict base64url or not such an object (<see cref="JoseError.Malformed"/>).</exception>
    public JsonElement ParsePayloadObject()
    {
        if (_payloadObject is { } parsed)
        {
            return parsed;
        }

        byte[] payload = Payload;
        JsonElement root = JoseJson.TryParseObject(payload, out JwsFormatFault fault, out string reason)
            ?? throw Fault(fault, "payload", _payloadStart, $"The JWS payload {reason}.");
        _payloadObject = root;
        return root;
    }

    /// <summary>Verifies the signature with <paramref name="key"/> for <paramref name="algorithm"/> (ES256, ES384,
    /// RS256, PS256). The caller has checked that the key fits the algorithm (curve, RSA size).</summary>
    /// <exception cref="JoseException">The signature part is not strict base64url (<see cref="JoseError.Malformed"/>).</exception>
    public JwsSignatureStatus VerifySignature(string algorithm, AsymmetricAlgorithm key)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        ArgumentNullException.ThrowIfNull(key);
        byte[] signature = Signature;
        switch (algorithm)
        {
            case "ES256" or "ES384":
                if (key is not ECDsa ecdsa)
                {
                    return JwsSignatureStatus.WrongKeyType;
                }

                EcCurve curve = EcCurve.FromSignatureAlgorithm(algorithm)!;
                if (signature.Length != 2 * curve.CoordinateSize)
                {
                    return JwsSignatureStatus.WrongLength;
                }

                if (IsEcdsaScalarOutOfRange(signature))
                {
                    return JwsSignatureStatus.ScalarOutOfRange;
                }

                return ecdsa.VerifyData(SigningInput.Span, signature, curve.Hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
                    ? JwsSignatureStatus.Valid
                    : JwsSignatureStatus.Invalid;
            case "RS256" or "PS256":
                if (key is not RSA rsa)
                {
                    return JwsSignatureStatus.WrongKeyType;
                }

                if (signature.Length != (rsa.KeySize + 7) / 8)
                {
                    return JwsSignatureStatus.WrongLength;
                }

                RSASignaturePadding padding = algorithm == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
                return rsa.VerifyData(SigningInput.Span, signature, HashAlgorithmName.SHA256, padding)
                    ? JwsSignatureStatus.Valid
                    : JwsSignatureStatus.Invalid;
            default:
                return JwsSignatureStatus.UnsupportedAlgorithm;
        }
    }

    /// <summary>For a signature of ES256 or ES384 length (64 or 96 bytes), whether r or s is 0 or not below the
    /// order of that curve; false for any other length.</summary>
    public static bool IsEcdsaScalarOutOfRange(ReadOnlySpan<byte> signature)
    {
        EcCurve? curve = signature.Length switch
        {
            64 => EcCurve.P256,
            96 => EcCurve.P384,
            _ => null,
        };
        if (curve is null)
        {
            return false;
        }

        int size = curve.CoordinateSize;
        return !curve.IsValidScalar(signature[..size]) || !curve.IsValidScalar(signature[size..]);
    }

    private static CompactJws ParseCore(byte[] token)
    {
        ReadOnlySpan<byte> span = token;
        int firstDot = span.IndexOf((byte)'.');
        int secondDot = firstDot < 0 ? -1 : span[(firstDot + 1)..].IndexOf((byte)'.');
        if (secondDot < 0)
        {
            throw Fault(JwsFormatFault.TooFewParts, "token", token.Length, "A compact JWS has three dot-separated parts.");
        }

        secondDot += firstDot + 1;
        if (span[(secondDot + 1)..].IndexOf((byte)'.') >= 0)
        {
            throw Fault(JwsFormatFault.TooManyParts, "token", secondDot, "A compact JWS has exactly three dot-separated parts (a JWE has five).");
        }

        if (firstDot == 0)
        {
            throw Fault(JwsFormatFault.EmptyHeader, "header", 0, "The JWS header is empty.");
        }

        if (!Base64Url.TryDecode(span[..firstDot], out byte[] headerJson))
        {
            throw Fault(JwsFormatFault.InvalidBase64Url, "header", 0, "The JWS header is not valid unpadded base64url.");
        }

        JsonElement header = JoseJson.TryParseObject(headerJson, out JwsFormatFault fault, out string reason)
            ?? throw Fault(fault, "header", 0, $"The JWS header {reason}.");
        if (!IsWithinDepth(header, MaxHeaderDepth))
        {
            throw Fault(JwsFormatFault.InvalidJson, "header", 0, $"The JWS header is nested deeper than {MaxHeaderDepth}.");
        }

        return new CompactJws(token, firstDot + 1, secondDot + 1, header);
    }

    // Containers nested within the element, the element itself counting as one (JsonDocumentOptions.MaxDepth).
    private static bool IsWithinDepth(JsonElement element, int depth)
    {
        if (element.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array))
        {
            return true;
        }

        if (depth == 0)
        {
            return false;
        }

        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty property in element.EnumerateObject())
            {
                if (!IsWithinDepth(property.Value, depth - 1))
                {
                    return false;
                }
            }
        }
        else
        {
            foreach (JsonElement item in element.EnumerateArray())
            {
                if (!IsWithinDepth(item, depth - 1))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private byte[] Decode(int start, int length, string part) =>
        Base64Url.TryDecode(_token.AsSpan(start, length), out byte[] data)
            ? data
            : throw Fault(JwsFormatFault.InvalidBase64Url, part, start, $"The JWS {part} is not valid unpadded base64url.");

    private static JoseException Fault(JwsFormatFault fault, string part, int offset, string message) =>
        new(JoseError.Malformed, message) { FormatError = new JwsFormatError(fault, part, offset) };
}
