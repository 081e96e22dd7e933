// Verification of Microsoft Azure Attestation tokens (JWS RFC 7515, JWT RFC 7519, JWK RFC 7517) at an explicit
// instant, against a JWKS given as an endorsement (the provider's /certs response). In this order:
//  1. alg is one of RS256, PS256, ES256, ES384: "none" and HS* (a public key used as an HMAC secret) are refused
//     with AlgorithmNotAllowed, as is anything else;
//  2. the token may not name its own key: jwk, x5c, x5u, x5t and x5t#S256 in the header give KeyNotTrusted; a
//     jku (MAA sets one) is never fetched and must be an https URL in the origin of the token's iss; crit is refused;
//  3. the signing key is the JWKS key whose kid equals the header's; MAA keys carry an x5c chain, whose first
//     certificate's key is the key (and must equal n/e or x/y when those are given too), every certificate valid
//     at the instant and each issued by the next; the key type must fit alg (RSA >= 2048 bits, P-256, P-384);
//  4. the signature verifies over "header.payload"; ECDSA r and s each lie in [1, n - 1] (CVE-2022-21449);
//  5. iss is present and equals the expected issuer (options, else an OpenID configuration endorsement, else
//     the token's own iss is reported unchecked in the claims as "issuer");
//  6. exp is present and the instant is not after exp + skew; when nbf is present, not before nbf - skew.
// Steps 1-3 stop verification (nothing can be checked without a trusted key); 4-6 are all reported.
// Claims: "issuer"; "header.<member>"; "claims.<name>" for every claim, nested objects flattened with dots and
// arrays as ".0", ".1"; strings as they are, numbers as written, booleans "true"/"false". TcbStatus is the
// token's attester_tcb_status (MAA TDX profile) when present, else null.
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Enclave.Crypto;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.Maa;

namespace Enclave.AttestationVerifier.Verification.Maa;

/// <summary>Verifies Azure Attestation tokens against a JWKS endorsement.</summary>
public sealed class MaaVerifier : IHardwareVerifier, ISignatureWorkload
{
    public const string KindName = "maa";

    private const int MaxJwksKeys = 64;
    private const int MaxX5cCertificates = 8;
    private const int MinRsaBits = 2048;
    private const string NistP256Oid = "1.2.840.10045.3.1.7";
    private const string NistP384Oid = "1.3.132.0.34";

    private static readonly string[] s_allowedAlgorithms = ["RS256", "PS256", "ES256", "ES384"];
    private static readonly string[] s_keyCarryingHeaders = ["jwk", "x5c", "x5u", "x5t", "x5t#S256"];

    // Warm collateral: each endorsement document is parsed once, and a JWKS's keys are read once (parameters, x5c
    // path, key import: everything that does not depend on the instant), not once per token.
    private static readonly ConditionalWeakTable<EndorsementDocument, ParsedDocument> s_parsedDocuments = new();

    private readonly MaaVerifierOptions _options;

    public MaaVerifier(MaaVerifierOptions? options = null)
    {
        _options = options ?? new MaaVerifierOptions();
        _options.Validate();
    }

    /// <summary>Convenience: accept tokens of one attestation provider only.</summary>
    public MaaVerifier(string expectedIssuer)
        : this(new MaaVerifierOptions { ExpectedIssuer = expectedIssuer })
    {
    }

    public string Kind => KindName;

    /// <summary>A compact JWS whose header is a JSON object starts with "eyJ" (base64url of '{"').</summary>
    public bool Recognizes(ReadOnlySpan<byte> evidence) => evidence.StartsWith("eyJ"u8) && evidence.IndexOf((byte)'.') > 0;

    public HardwareVerificationReport Verify(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(endorsements);
        UnverifiedMaaToken token;
        try
        {
            token = MaaToken.Parse(evidence.Span);
        }
        catch (EvidenceFormatException e)
        {
            return HardwareVerificationReport.Unusable(KindName, VerificationCodes.Malformed, e.Message);
        }

        try
        {
            return VerifyParsed(token, endorsements, at);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or CryptographicException or ArgumentException)
        {
            // Defence in depth: a value of an unexpected shape deep inside a token or JWKS.
            return HardwareVerificationReport.Unusable(KindName, VerificationCodes.Malformed, $"the token or its JWKS could not be processed: {e.Message}");
        }
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The token does not parse or its key cannot be resolved.</exception>
    public Func<bool> CreateSignatureWorkload(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(endorsements);
        UnverifiedMaaToken token = MaaToken.Parse(evidence.Span);
        List<VerificationProblem> errors = [];
        TrustedKey key = ResolveKey(token, endorsements, at, errors)
            ?? throw new InvalidOperationException($"the token's key does not resolve: {string.Join("; ", errors)}");
        return () =>
        {
            List<VerificationProblem> problems = [];
            CheckSignature(token, key, problems);
            return problems.Count == 0;
        };
    }

    private HardwareVerificationReport VerifyParsed(UnverifiedMaaToken token, EndorsementSet endorsements, DateTimeOffset at)
    {
        Dictionary<string, string> claims = MaaClaims.Flatten(token);
        HardwareIdentity identity = MaaClaims.Identity(token);
        string? tcbStatus = token.Claims.TryGetProperty("attester_tcb_status", out JsonElement tcb) && tcb.ValueKind == JsonValueKind.String
            ? tcb.GetString()
            : null;
        List<VerificationProblem> errors = [];
        Report Fail() => new(claims, identity, errors);

        string? tokenIssuer = token.Claims.TryGetProperty("iss", out JsonElement iss) && iss.ValueKind == JsonValueKind.String
            ? iss.GetString()
            : null;
        if (!CheckAlgorithm(token, errors) || !CheckHeader(token, errors))
        {
            return Fail().ToReport(tcbStatus);
        }

        string? expectedIssuer = _options.ExpectedIssuer;
        if (expectedIssuer is null && !TryFindConfiguredIssuer(endorsements, errors, out expectedIssuer))
        {
            return Fail().ToReport(tcbStatus);
        }

        if (!CheckKeyUrl(token, tokenIssuer ?? expectedIssuer, errors))
        {
            return Fail().ToReport(tcbStatus);
        }

        TrustedKey? key = ResolveKey(token, endorsements, at, errors);
        if (key is null)
        {
            return Fail().ToReport(tcbStatus);
        }

        CheckSignature(token, key, errors);
        CheckIssuer(tokenIssuer, expectedIssuer, errors);
        CheckLifetime(token, at, errors);
        return Fail().ToReport(tcbStatus);
    }

    private static bool CheckAlgorithm(UnverifiedMaaToken token, List<VerificationProblem> errors)
    {
        string alg = token.Algorithm;
        if (alg.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(new VerificationProblem(VerificationCodes.AlgorithmNotAllowed, "the token is unsigned (alg \"none\")"));
            return false;
        }

        if (alg.StartsWith("HS", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.AlgorithmNotAllowed, $"the symmetric algorithm \"{Clip(alg)}\" is refused; attestation tokens are signed with a public-key algorithm"));
            return false;
        }

        if (Array.IndexOf(s_allowedAlgorithms, alg) < 0)
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.AlgorithmNotAllowed, $"the algorithm \"{Clip(alg)}\" is not one of {string.Join(", ", s_allowedAlgorithms)}"));
            return false;
        }

        return true;
    }

    private static bool CheckHeader(UnverifiedMaaToken token, List<VerificationProblem> errors)
    {
        foreach (string name in s_keyCarryingHeaders)
        {
            if (token.Header.TryGetProperty(name, out _))
            {
                errors.Add(new VerificationProblem(
                    VerificationCodes.KeyNotTrusted, $"the header carries \"{name}\"; keys come only from the configured JWKS"));
                return false;
            }
        }

        if (token.Header.TryGetProperty("crit", out _) || token.Header.TryGetProperty("b64", out _))
        {
            errors.Add(new VerificationProblem(VerificationCodes.Unsupported, "the header names critical extensions; none is understood"));
            return false;
        }

        return true;
    }

    // jku is informational only (never fetched): it must be an https URL within the origin of the token's own
    // issuer, so a header pointing anywhere else is refused before any key is looked at. Whether that issuer is
    // the expected one is checked after the signature.
    private static bool CheckKeyUrl(UnverifiedMaaToken token, string? issuer, List<VerificationProblem> errors)
    {
        if (!token.Header.TryGetProperty("jku", out JsonElement jku))
        {
            return true;
        }

        if (jku.ValueKind != JsonValueKind.String
            || !Uri.TryCreate(jku.GetString(), UriKind.Absolute, out Uri? jkuUri)
            || issuer is null
            || !Uri.TryCreate(issuer, UriKind.Absolute, out Uri? issuerUri)
            || jkuUri.Scheme != Uri.UriSchemeHttps
            || Uri.Compare(jkuUri, issuerUri, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) != 0)
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.KeyNotTrusted, "the header's jku does not point into the issuer's origin; keys come only from the configured JWKS"));
            return false;
        }

        return true;
    }

    private static bool TryFindConfiguredIssuer(EndorsementSet endorsements, List<VerificationProblem> errors, out string? issuer)
    {
        issuer = null;
        foreach (EndorsementDocument document in endorsements.Documents)
        {
            JsonElement? json = Parsed(document).Json;
            if (json is not { ValueKind: JsonValueKind.Object } root
                || !root.TryGetProperty("issuer", out JsonElement value)
                || !root.TryGetProperty("jwks_uri", out _))
            {
                continue;
            }

            string? named = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            if (string.IsNullOrEmpty(named) || (issuer is not null && NormalizeIssuer(issuer) != NormalizeIssuer(named)))
            {
                errors.Add(new VerificationProblem(
                    VerificationCodes.CollateralInvalid, $"the OpenID configuration '{document.Name}' names no issuer or another issuer than '{issuer}'"));
                return false;
            }

            issuer = named;
        }

        return true;
    }

    private static TrustedKey? ResolveKey(UnverifiedMaaToken token, EndorsementSet endorsements, DateTimeOffset at, List<VerificationProblem> errors)
    {
        if (token.KeyId is null)
        {
            errors.Add(new VerificationProblem(VerificationCodes.KeyNotTrusted, "the token names no kid"));
            return null;
        }

        bool anyJwks = false;
        List<CachedKey> matches = [];
        foreach (EndorsementDocument document in endorsements.Documents)
        {
            ParsedDocument parsed = Parsed(document);
            if (parsed.Keys is not { } keys)
            {
                continue;
            }

            anyJwks = true;
            if (keys.Invalid)
            {
                errors.Add(new VerificationProblem(
                    VerificationCodes.CollateralInvalid, $"the JWKS '{document.Name}' has no \"keys\" array of at most {MaxJwksKeys} keys"));
                return null;
            }

            if (keys.ByKid.TryGetValue(token.KeyId, out List<CachedKey>? found))
            {
                matches.AddRange(found);
            }
        }

        if (!anyJwks)
        {
            errors.Add(new VerificationProblem(VerificationCodes.CollateralMissing, "no JWKS (a JSON document with \"keys\") is among the endorsements"));
            return null;
        }

        if (matches.Count == 0)
        {
            errors.Add(new VerificationProblem(VerificationCodes.KeyNotTrusted, $"no JWKS key has kid \"{Clip(token.KeyId)}\""));
            return null;
        }

        TrustedKey? chosen = null;
        foreach (CachedKey match in matches)
        {
            TrustedKey? key = ReadKey(match, at, errors);
            if (key is null)
            {
                return null;
            }

            if (chosen is not null && !chosen.SubjectPublicKeyInfo.AsSpan().SequenceEqual(key.SubjectPublicKeyInfo))
            {
                errors.Add(new VerificationProblem(VerificationCodes.CollateralInvalid, $"two different JWKS keys have kid \"{Clip(token.KeyId)}\""));
                return null;
            }

            chosen ??= key;
        }

        if (!FitsAlgorithm(chosen!, token.Algorithm, out string why))
        {
            errors.Add(new VerificationProblem(VerificationCodes.AlgorithmNotAllowed, why));
            return null;
        }

        if (chosen!.JwkAlgorithm is { } jwkAlg && !string.Equals(jwkAlg, token.Algorithm, StringComparison.Ordinal))
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.AlgorithmNotAllowed, $"the JWKS key is for \"{Clip(jwkAlg)}\", the token uses \"{Clip(token.Algorithm)}\""));
            return null;
        }

        return chosen;
    }

    // A JWKS key's time-independent verdict (parameters, x5c path, key import) is read once with its document;
    // the x5c validity is checked at each call's instant.
    private static TrustedKey? ReadKey(CachedKey cached, DateTimeOffset at, List<VerificationProblem> errors)
    {
        errors.AddRange(cached.Problems);
        if (cached.Path is { } x5cPath)
        {
            for (int i = 0; i < x5cPath.Chain.Count; i++)
            {
                if (at < x5cPath.NotBefore(i) || at > x5cPath.NotAfter(i))
                {
                    errors.Add(new VerificationProblem(
                        VerificationCodes.CertificateExpired,
                        $"x5c[{i}] ({x5cPath.Chain[i].Subject}) is valid {x5cPath.DescribeValidity(i)}, not at {at.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}"));
                }
            }
        }

        return cached.Key;
    }

    private static ParsedDocument Parsed(EndorsementDocument document) =>
        s_parsedDocuments.GetValue(document, static d => ParsedDocument.Read(d.Bytes));

    private static TrustedKey? ReadKeyUncached(JsonElement jwk, List<VerificationProblem> errors, out CertificatePath? path)
    {
        path = null;
        string? kty = GetString(jwk, "kty");
        string? use = GetString(jwk, "use");
        if (use is not null && use != "sig")
        {
            errors.Add(new VerificationProblem(VerificationCodes.KeyNotTrusted, $"the JWKS key is not a signing key (use \"{Clip(use)}\")"));
            return null;
        }

        byte[]? fromParameters;
        try
        {
            fromParameters = PublicKeyFromParameters(jwk, kty);
        }
        catch (Exception e) when (e is FormatException or CryptographicException or InvalidOperationException or EvidenceFormatException)
        {
            errors.Add(new VerificationProblem(VerificationCodes.CollateralInvalid, $"the JWKS key's parameters are not a valid {kty} public key"));
            return null;
        }

        byte[]? fromCertificate = null;
        if (jwk.TryGetProperty("x5c", out JsonElement x5c))
        {
            fromCertificate = PublicKeyFromChain(x5c, errors, out path);
            if (fromCertificate is null)
            {
                return null;
            }
        }

        if (fromParameters is null && fromCertificate is null)
        {
            errors.Add(new VerificationProblem(VerificationCodes.CollateralInvalid, "the JWKS key has neither x5c nor key parameters"));
            return null;
        }

        if (fromParameters is not null && fromCertificate is not null && !fromParameters.AsSpan().SequenceEqual(fromCertificate))
        {
            errors.Add(new VerificationProblem(VerificationCodes.CollateralInvalid, "the JWKS key's parameters differ from its x5c certificate's key"));
            return null;
        }

        byte[] spki = fromCertificate ?? fromParameters!;
        TrustedKey key;
        try
        {
            key = TrustedKey.FromSubjectPublicKeyInfo(spki, GetString(jwk, "alg"));
        }
        catch (CryptographicException)
        {
            errors.Add(new VerificationProblem(VerificationCodes.CollateralInvalid, "the JWKS key is neither an RSA nor an EC key"));
            return null;
        }

        if (key.Rsa is null && key.Ecdsa is null)
        {
            key.Dispose();
            errors.Add(new VerificationProblem(VerificationCodes.CollateralInvalid, "the JWKS key is neither an RSA nor an EC key"));
            return null;
        }

        if (kty is not null && kty != (key.Rsa is not null ? "RSA" : "EC"))
        {
            key.Dispose();
            errors.Add(new VerificationProblem(VerificationCodes.CollateralInvalid, $"the JWKS key says kty \"{Clip(kty)}\" but holds another key type"));
            return null;
        }

        return key;
    }

    private static byte[]? PublicKeyFromParameters(JsonElement jwk, string? kty)
    {
        if (kty == "RSA" && GetString(jwk, "n") is { } n && GetString(jwk, "e") is { } e)
        {
            using RSA rsa = RSA.Create();
            rsa.ImportParameters(new RSAParameters
            {
                Modulus = StripLeadingZeros(Base64Url.Decode(n)),
                Exponent = StripLeadingZeros(Base64Url.Decode(e)),
            });
            return rsa.ExportSubjectPublicKeyInfo();
        }

        if (kty == "EC" && GetString(jwk, "crv") is { } crv && GetString(jwk, "x") is { } x && GetString(jwk, "y") is { } y)
        {
            ECCurve curve = crv switch
            {
                "P-256" => ECCurve.NamedCurves.nistP256,
                "P-384" => ECCurve.NamedCurves.nistP384,
                _ => throw new FormatException("unsupported curve"),
            };
            using ECDsa ecdsa = ECDsa.Create(new ECParameters
            {
                Curve = curve,
                Q = new ECPoint
                {
                    X = Base64Url.Decode(x),
                    Y = Base64Url.Decode(y),
                },
            });
            return ecdsa.ExportSubjectPublicKeyInfo();
        }

        return null;
    }

    private static byte[]? PublicKeyFromChain(JsonElement x5c, List<VerificationProblem> errors, out CertificatePath? path)
    {
        path = null;
        if (x5c.ValueKind != JsonValueKind.Array || x5c.GetArrayLength() is 0 or > MaxX5cCertificates)
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.CollateralInvalid, $"the JWKS key's x5c is not an array of 1..{MaxX5cCertificates} certificates"));
            return null;
        }

        List<X509Certificate2> chain = [];
        try
        {
            foreach (JsonElement entry in x5c.EnumerateArray())
            {
                // RFC 7517 section 4.7: standard base64 (not base64url) of the DER.
                if (entry.ValueKind != JsonValueKind.String || !TryLoadBase64Certificate(entry.GetString()!, out X509Certificate2? certificate))
                {
                    errors.Add(new VerificationProblem(VerificationCodes.CollateralInvalid, "an x5c entry is not a base64 DER certificate"));
                    return null;
                }

                chain.Add(certificate);
            }

            // The JWKS is the trusted endorsement, so its x5c's last certificate is the anchor; each entry must be
            // issued by the next (RFC 7517 section 4.7), issuers being CAs with keyCertSign.
            CertificatePath built = CertificateChain.Build(chain[0], chain.Skip(1).SkipLast(1), chain[^1], new ChainRules(MaxX5cCertificates, ExactPath: chain[1..]));
            if (!built.IsValid)
            {
                int index = Math.Clamp(built.FailedIndex, 0, chain.Count - 1);
                errors.Add(new VerificationProblem(VerificationCodes.ChainInvalid, $"x5c[{index}] is not issued by x5c[{Math.Min(index + 1, chain.Count - 1)}]: {built.Message}"));
                return null;
            }

            path = built;
            return chain[0].PublicKey.ExportSubjectPublicKeyInfo();
        }
        finally
        {
            foreach (X509Certificate2 certificate in chain)
            {
                certificate.Dispose();
            }
        }
    }

    private static bool TryLoadBase64Certificate(string text, out X509Certificate2 certificate)
    {
        certificate = null!;
        byte[] der = new byte[text.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64String(text, der, out int written))
        {
            return false;
        }

        try
        {
            certificate = X509CertificateLoader.LoadCertificate(der.AsSpan(0, written));
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static bool FitsAlgorithm(TrustedKey key, string alg, out string why)
    {
        why = string.Empty;
        switch (alg)
        {
            case "RS256":
            case "PS256":
                if (key.Rsa is null || key.Rsa.KeySize < MinRsaBits)
                {
                    why = $"{alg} needs an RSA key of at least {MinRsaBits} bits; the JWKS key is not one";
                    return false;
                }

                return true;
            default:
                string curve = alg == "ES256" ? NistP256Oid : NistP384Oid;
                if (key.Ecdsa is null || !string.Equals(key.CurveOid, curve, StringComparison.Ordinal))
                {
                    why = $"{alg} needs an EC {(alg == "ES256" ? "P-256" : "P-384")} key; the JWKS key is not one";
                    return false;
                }

                return true;
        }
    }

    private static void CheckSignature(UnverifiedMaaToken token, TrustedKey key, List<VerificationProblem> errors)
    {
        string? problem = token.Jws.VerifySignature(token.Algorithm, (AsymmetricAlgorithm?)key.Rsa ?? key.Ecdsa!) switch
        {
            JwsSignatureStatus.Valid => null,
            JwsSignatureStatus.WrongLength => key.Rsa is { } rsa
                ? $"the signature is {token.Signature.Length} bytes; this key's signatures are {(rsa.KeySize + 7) / 8}"
                : $"an {token.Algorithm} signature is {(token.Algorithm == "ES256" ? 64 : 96)} bytes, not {token.Signature.Length}",
            JwsSignatureStatus.ScalarOutOfRange => "the ECDSA signature has r or s outside [1, n - 1]",
            _ => "the token signature does not verify with the JWKS key",
        };
        if (problem is not null)
        {
            errors.Add(new VerificationProblem(VerificationCodes.EvidenceSignatureInvalid, problem));
        }
    }

    private static void CheckIssuer(string? tokenIssuer, string? expectedIssuer, List<VerificationProblem> errors)
    {
        if (string.IsNullOrEmpty(tokenIssuer))
        {
            errors.Add(new VerificationProblem(VerificationCodes.IssuerInvalid, "the token has no iss string"));
        }
        else if (expectedIssuer is not null && NormalizeIssuer(tokenIssuer) != NormalizeIssuer(expectedIssuer))
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.IssuerInvalid, $"the token's issuer \"{Clip(tokenIssuer)}\" is not the expected \"{Clip(expectedIssuer)}\""));
        }
    }

    private void CheckLifetime(UnverifiedMaaToken token, DateTimeOffset at, List<VerificationProblem> errors)
    {
        long now = at.ToUnixTimeSeconds();
        long skew = (long)_options.ClockSkew.TotalSeconds;
        if (!token.Claims.TryGetProperty("exp", out JsonElement exp))
        {
            errors.Add(new VerificationProblem(VerificationCodes.Expired, "the token has no exp"));
        }
        else if (!TryGetSeconds(exp, out long expSeconds))
        {
            errors.Add(new VerificationProblem(VerificationCodes.Malformed, "exp is not a NumericDate"));
        }
        else if (now > expSeconds + skew)
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.Expired, $"the token expired at {DateTimeOffset.FromUnixTimeSeconds(expSeconds):O}; the instant is {at:O}"));
        }

        if (token.Claims.TryGetProperty("nbf", out JsonElement nbf))
        {
            if (!TryGetSeconds(nbf, out long nbfSeconds))
            {
                errors.Add(new VerificationProblem(VerificationCodes.Malformed, "nbf is not a NumericDate"));
            }
            else if (now < nbfSeconds - skew)
            {
                errors.Add(new VerificationProblem(
                    VerificationCodes.Expired, $"the token is not valid before {DateTimeOffset.FromUnixTimeSeconds(nbfSeconds):O}; the instant is {at:O}"));
            }
        }
    }

    // NumericDate (RFC 7519 section 2): seconds since the epoch; fractions are truncated; bounded to what
    // DateTimeOffset can represent.
    private static bool TryGetSeconds(JsonElement value, out long seconds)
    {
        seconds = 0;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double number) || double.IsNaN(number)
            || number < 0 || number > DateTimeOffset.MaxValue.ToUnixTimeSeconds())
        {
            return false;
        }

        seconds = value.TryGetInt64(out long whole) ? whole : (long)Math.Floor(number);
        return true;
    }


    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[] StripLeadingZeros(byte[] value)
    {
        int start = 0;
        while (start < value.Length - 1 && value[start] == 0)
        {
            start++;
        }

        return value[start..];
    }

    private static string NormalizeIssuer(string issuer) => issuer.TrimEnd('/');

    private static string Clip(string text) => text.Length > 128 ? text[..128] + "..." : text;

    private sealed record Report(Dictionary<string, string> Claims, HardwareIdentity Identity, List<VerificationProblem> Errors)
    {
        public HardwareVerificationReport ToReport(string? tcbStatus) =>
            new(KindName, Errors.Count == 0, Errors.Count == 0 ? tcbStatus : null, Claims, Errors, Identity);
    }

    /// <summary>The key that signs, from the JWKS: exactly one of <see cref="Rsa"/> and <see cref="Ecdsa"/>; shared
    /// by every verification with the same endorsement document (verification only, so safe across threads).</summary>
    private sealed class TrustedKey : IDisposable
    {
        private TrustedKey(byte[] subjectPublicKeyInfo, RSA? rsa, ECDsa? ecdsa, string? jwkAlgorithm)
        {
            SubjectPublicKeyInfo = subjectPublicKeyInfo;
            Rsa = rsa;
            Ecdsa = ecdsa;
            JwkAlgorithm = jwkAlgorithm;
            CurveOid = ecdsa?.ExportParameters(false).Curve.Oid?.Value;
        }

        public byte[] SubjectPublicKeyInfo { get; }

        public RSA? Rsa { get; }

        public ECDsa? Ecdsa { get; }

        public string? JwkAlgorithm { get; }

        /// <summary>The EC key's named-curve OID, read once; null for RSA.</summary>
        public string? CurveOid { get; }

        public static TrustedKey FromSubjectPublicKeyInfo(byte[] spki, string? jwkAlgorithm)
        {
            PublicKey key = PublicKey.CreateFromSubjectPublicKeyInfo(spki, out _);
            return new TrustedKey(spki, key.GetRSAPublicKey(), key.GetECDsaPublicKey(), jwkAlgorithm);
        }

        /// <summary>Only for a key that is refused while it is read; a key that is kept lives as long as its document.</summary>
        public void Dispose()
        {
            Rsa?.Dispose();
            Ecdsa?.Dispose();
        }
    }

    /// <summary>An endorsement document as JSON (null when it is not JSON) and, when it is a JWKS, its keys.</summary>
    private sealed record ParsedDocument(JsonElement? Json, JwksKeys? Keys)
    {
        public static ParsedDocument Read(byte[] bytes)
        {
            JsonElement root;
            try
            {
                root = JsonElement.Parse(bytes, CompactJws.JsonOptions);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                return new ParsedDocument(null, null);
            }

            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("keys", out JsonElement keys))
            {
                return new ParsedDocument(root, null);
            }

            if (keys.ValueKind != JsonValueKind.Array || keys.GetArrayLength() > MaxJwksKeys)
            {
                return new ParsedDocument(root, new JwksKeys(true, []));
            }

            Dictionary<string, List<CachedKey>> byKid = new(StringComparer.Ordinal);
            foreach (JsonElement key in keys.EnumerateArray())
            {
                if (key.ValueKind == JsonValueKind.Object
                    && key.TryGetProperty("kid", out JsonElement kid)
                    && kid.ValueKind == JsonValueKind.String)
                {
                    List<VerificationProblem> problems = [];
                    TrustedKey? trusted = null;
                    CertificatePath? path = null;
                    try
                    {
                        trusted = ReadKeyUncached(key, problems, out path);
                    }
                    catch (Exception e) when (e is InvalidOperationException or FormatException or CryptographicException or ArgumentException)
                    {
                        // As in Verify: a value of an unexpected shape, reported only if a token names this key.
                        problems.Add(new VerificationProblem(VerificationCodes.Malformed, $"the token or its JWKS could not be processed: {e.Message}"));
                    }

                    string name = kid.GetString()!;
                    if (!byKid.TryGetValue(name, out List<CachedKey>? list))
                    {
                        byKid[name] = list = [];
                    }

                    list.Add(new CachedKey(trusted, problems, path));
                }
            }

            return new ParsedDocument(root, new JwksKeys(false, byKid));
        }
    }

    /// <summary>A JWKS's keys by kid; <see cref="Invalid"/> when "keys" is not an array of at most <see cref="MaxJwksKeys"/>.</summary>
    private sealed record JwksKeys(bool Invalid, Dictionary<string, List<CachedKey>> ByKid);

    private sealed record CachedKey(TrustedKey? Key, List<VerificationProblem> Problems, CertificatePath? Path);
}
