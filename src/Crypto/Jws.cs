// JSON Web Signature, compact serialisation (RFC 7515 section 7.1) with the algorithms of RFC 7518
// section 3: ES256 (P-256, SHA-256, 64-byte r‖s), ES384 (P-384, SHA-384, 96-byte r‖s), and, only when a
// caller allows them, RS256 and PS256 (RSA ≥ 2048 bits, signature as long as the modulus).
// The verification key comes only from the caller's resolver: "jwk", "jku", "x5u", "x5c", "x5t",
// "x5t#S256" in a header are refused, "none" and HMAC algorithms are refused, and no "crit" extension
// (RFC 7515 section 4.1.11) is understood. ECDSA r and s are checked to lie in [1, n − 1]
// before verifying. Tokens are at most 64 KiB and are read by CompactJws, the one compact-JWS reader.

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

/// <summary>A JWS whose signature verified under a key from the caller's resolver.</summary>
public sealed record JwsVerified(JsonObject Header, byte[] Payload, string Algorithm, string? Kid);

/// <summary>Compact JWS signing (ES256/ES384) and verification against caller-resolved keys.</summary>
public static class Jws
{
    public const int MaxTokenLength = 64 * 1024;

    private static readonly string[] s_defaultAlgorithms = ["ES256"];

    private static readonly string[] s_keyCarryingHeaders = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"];

    /// <summary>Signs with ES256 (P-256 key) or ES384 (P-384 key). The header holds alg, then kid and typ
    /// when they are not null.</summary>
    /// <exception cref="JoseException">The key is not on P-256 or P-384 (<see cref="JoseError.UnsupportedKey"/>).</exception>
    public static string Sign(ReadOnlySpan<byte> payload, ECDsa key, string? kid, string? typ = "JWT")
    {
        ArgumentNullException.ThrowIfNull(key);
        EcCurve curve = CurveOf(key);
        return SignCore(payload, key, curve, kid, typ);
    }

    /// <summary>Verifies a compact JWS and returns its header and payload.</summary>
    /// <param name="compact">The token.</param>
    /// <param name="keyResolver">Maps the header kid (null when absent) to the verification key, or null when unknown.</param>
    /// <param name="allowedAlgorithms">Accepted alg values; default ES256 only. Supported: ES256, ES384, RS256, PS256.</param>
    /// <exception cref="JoseException">Any fault; <see cref="JoseException.Code"/> names it.</exception>
    public static JwsVerified Verify(
        string compact,
        Func<string?, Jwk?> keyResolver,
        IReadOnlyCollection<string>? allowedAlgorithms = null)
    {
        ArgumentNullException.ThrowIfNull(compact);
        ArgumentNullException.ThrowIfNull(keyResolver);
        return VerifyCore(compact, keyResolver, allowedAlgorithms ?? s_defaultAlgorithms);
    }

    internal static string SignCore(ReadOnlySpan<byte> payload, ECDsa key, EcCurve curve, string? kid, string? typ)
    {
        var headerBuffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(headerBuffer))
        {
            writer.WriteStartObject();
            writer.WriteString("alg", curve.SignatureAlgorithm);
            if (kid is not null)
            {
                writer.WriteString("kid", kid);
            }

            if (typ is not null)
            {
                writer.WriteString("typ", typ);
            }

            writer.WriteEndObject();
        }

        string signingInput = Base64Url.Encode(headerBuffer.WrittenSpan) + "." + Base64Url.Encode(payload);
        byte[] signature = key.SignData(
            Encoding.ASCII.GetBytes(signingInput),
            curve.Hash,
            DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.Encode(signature);
    }

    internal static EcCurve CurveOf(ECDsa key)
    {
        ECParameters parameters = key.ExportParameters(false);
        return EcCurve.FromCurve(parameters.Curve)
            ?? throw new JoseException(JoseError.UnsupportedKey, "Only P-256 and P-384 signing keys are supported.");
    }

    /// <summary>Verifies an already read compact JWS (see <see cref="CompactJws"/>) and returns its header and payload.</summary>
    /// <exception cref="JoseException">Any fault; <see cref="JoseException.Code"/> names it.</exception>
    public static JwsVerified Verify(
        CompactJws jws,
        Func<string?, Jwk?> keyResolver,
        IReadOnlyCollection<string>? allowedAlgorithms = null)
    {
        ArgumentNullException.ThrowIfNull(jws);
        ArgumentNullException.ThrowIfNull(keyResolver);
        return VerifyCore(jws, keyResolver, allowedAlgorithms ?? s_defaultAlgorithms);
    }

    private static JwsVerified VerifyCore(
        string compact,
        Func<string?, Jwk?> keyResolver,
        IReadOnlyCollection<string> allowedAlgorithms)
    {
        if (compact.Length > MaxTokenLength)
        {
            throw new JoseException(JoseError.Malformed, $"The JWS is longer than {MaxTokenLength} characters.");
        }

        return VerifyCore(CompactJws.Parse(compact), keyResolver, allowedAlgorithms);
    }

    private static JwsVerified VerifyCore(
        CompactJws jws,
        Func<string?, Jwk?> keyResolver,
        IReadOnlyCollection<string> allowedAlgorithms)
    {
        // Both parts are decoded before the header is judged, so a malformed token is Malformed whatever it claims.
        byte[] payload = jws.Payload;
        byte[] signature = jws.Signature;

        foreach (string name in s_keyCarryingHeaders)
        {
            if (jws.HasHeader(name))
            {
                throw new JoseException(
                    JoseError.ForbiddenHeader,
                    $"The JWS header carries \"{name}\"; keys are taken only from configuration.");
            }
        }

        if (jws.HasHeader("crit"))
        {
            throw new JoseException(JoseError.ForbiddenHeader, "The JWS header has \"crit\"; no critical extensions are understood.");
        }

        if (jws.HasHeader("b64"))
        {
            throw new JoseException(JoseError.ForbiddenHeader, "The JWS header parameter \"b64\" (RFC 7797) is not supported.");
        }

        string alg = jws.GetHeaderString("alg")
            ?? throw new JoseException(JoseError.Malformed, "The JWS header has no \"alg\".");
        CheckAlgorithm(alg, allowedAlgorithms);
        string? kid = jws.GetHeaderString("kid");
        jws.GetHeaderString("typ");
        jws.GetHeaderString("cty");

        Jwk key = keyResolver(kid)
            ?? throw new JoseException(
                JoseError.UnknownKey,
                kid is null ? "The JWS has no kid and no default key is configured." : $"No key is known for kid \"{kid}\".");
        if (key.Use is not null && key.Use != "sig")
        {
            throw new JoseException(JoseError.UnsupportedKey, $"The key for kid \"{kid}\" is not a signing key (use \"{key.Use}\").");
        }

        ReadOnlySpan<byte> signingInput = jws.SigningInput.Span;
        bool valid = alg switch
        {
            "ES256" or "ES384" => VerifyEcdsa(alg, key, signingInput, signature),
            _ => VerifyRsa(alg, key, signingInput, signature),
        };
        if (!valid)
        {
            throw new JoseException(JoseError.BadSignature, "The JWS signature does not verify.");
        }

        return new JwsVerified(JsonObject.Create(jws.Header)!, payload, alg, kid);
    }

    internal static void CheckForbiddenHeaders(JsonObject header, string what)
    {
        foreach (string name in s_keyCarryingHeaders)
        {
            if (header.ContainsKey(name))
            {
                throw new JoseException(
                    JoseError.ForbiddenHeader,
                    $"The {what} header carries \"{name}\"; keys are taken only from configuration.");
            }
        }

        if (header.ContainsKey("crit"))
        {
            throw new JoseException(
                JoseError.ForbiddenHeader,
                $"The {what} header has \"crit\"; no critical extensions are understood.");
        }
    }

    private static void CheckAlgorithm(string alg, IReadOnlyCollection<string> allowedAlgorithms)
    {
        if (alg.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            throw new JoseException(JoseError.UnsupportedAlgorithm, "Unsigned JWS (alg \"none\") is refused.");
        }

        if (alg.StartsWith("HS", StringComparison.OrdinalIgnoreCase))
        {
            throw new JoseException(JoseError.UnsupportedAlgorithm, $"Symmetric JWS algorithm \"{alg}\" is refused.");
        }

        if (alg is not ("ES256" or "ES384" or "RS256" or "PS256"))
        {
            throw new JoseException(JoseError.UnsupportedAlgorithm, $"The JWS algorithm \"{alg}\" is not supported.");
        }

        bool allowed = false;
        foreach (string candidate in allowedAlgorithms)
        {
            if (string.Equals(candidate, alg, StringComparison.Ordinal))
            {
                allowed = true;
                break;
            }
        }

        if (!allowed)
        {
            throw new JoseException(JoseError.UnsupportedAlgorithm, $"The JWS algorithm \"{alg}\" is not allowed.");
        }
    }

    private static bool VerifyEcdsa(string alg, Jwk key, ReadOnlySpan<byte> signingInput, byte[] signature)
    {
        EcCurve curve = EcCurve.FromSignatureAlgorithm(alg)!;
        if (!key.IsEc || key.EcCurve != curve)
        {
            throw new JoseException(
                JoseError.UnsupportedKey,
                $"The key for \"{alg}\" must be an EC {curve.Name} key, not {key.Kty} {key.Crv}.");
        }

        int size = curve.CoordinateSize;
        if (signature.Length != 2 * size)
        {
            throw new JoseException(
                JoseError.BadSignature,
                $"An {alg} signature is {2 * size} bytes, not {signature.Length}.");
        }

        if (CompactJws.IsEcdsaScalarOutOfRange(signature))
        {
            throw new JoseException(JoseError.BadSignature, "The ECDSA signature has r or s outside [1, n - 1].");
        }

        return key.VerifyEcdsa(signingInput, signature, curve.Hash);
    }

    private static bool VerifyRsa(string alg, Jwk key, ReadOnlySpan<byte> signingInput, byte[] signature)
    {
        if (!key.IsRsa)
        {
            throw new JoseException(JoseError.UnsupportedKey, $"The key for \"{alg}\" must be an RSA key, not {key.Kty}.");
        }

        if (signature.Length != key.RsaModulusBytes)
        {
            throw new JoseException(
                JoseError.BadSignature,
                $"An {alg} signature for this key is {key.RsaModulusBytes} bytes, not {signature.Length}.");
        }

        RSASignaturePadding padding = alg == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        using RSA rsa = key.CreateRsa();
        return rsa.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, padding);
    }
}

/// <summary>Offsets of the dot-separated parts of a compact JOSE serialisation.</summary>
internal readonly struct CompactParts
{
    private readonly int[] _starts;
    private readonly int[] _lengths;

    private CompactParts(int[] starts, int[] lengths)
    {
        _starts = starts;
        _lengths = lengths;
    }

    public static CompactParts Split(string compact, int count, string what)
    {
        var starts = new int[count];
        var lengths = new int[count];
        int start = 0;
        for (int i = 0; i < count; i++)
        {
            int dot = i == count - 1 ? -1 : compact.IndexOf('.', start);
            if (i < count - 1 && dot < 0)
            {
                throw new JoseException(JoseError.Malformed, $"A compact {what} has {count} dot-separated parts.");
            }

            int end = dot < 0 ? compact.Length : dot;
            starts[i] = start;
            lengths[i] = end - start;
            start = end + 1;
        }

        if (compact.AsSpan(starts[count - 1], lengths[count - 1]).Contains('.'))
        {
            throw new JoseException(JoseError.Malformed, $"A compact {what} has {count} dot-separated parts.");
        }

        return new CompactParts(starts, lengths);
    }

    public ReadOnlySpan<char> Get(string compact, int index) => compact.AsSpan(_starts[index], _lengths[index]);
}
