using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Maa;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Tests.Maa;

/// <summary>
/// Each case changes one thing in a genuine token (the recorded MAA token with its JWKS, or one of a test
/// provider whose JWKS the case passes explicitly) and expects one exact code as the first error.
/// </summary>
public sealed class MaaNegativeTests
{
    private const string Sample = MaaConformanceTests.SgxEnclave;

    private static readonly (string Name, string Code)[] s_cases =
    [
        // The recorded Azure token and JWKS.
        ("real-draft-policy-alg-none", VerificationCodes.AlgorithmNotAllowed),
        ("real-alg-none-signature-dropped", VerificationCodes.AlgorithmNotAllowed),
        ("real-alg-none-uppercase", VerificationCodes.AlgorithmNotAllowed),
        ("real-hs256-keyed-with-public-key", VerificationCodes.AlgorithmNotAllowed),
        ("real-hs256-keyed-with-certificate", VerificationCodes.AlgorithmNotAllowed),
        ("real-signature-first-byte", VerificationCodes.EvidenceSignatureInvalid),
        ("real-signature-last-byte", VerificationCodes.EvidenceSignatureInvalid),
        ("real-signature-one-byte-short", VerificationCodes.EvidenceSignatureInvalid),
        ("real-payload-mrenclave-byte", VerificationCodes.EvidenceSignatureInvalid),
        ("real-payload-debuggable-false", VerificationCodes.EvidenceSignatureInvalid),
        ("real-payload-exp-extended", VerificationCodes.EvidenceSignatureInvalid),
        ("real-header-typ-byte", VerificationCodes.EvidenceSignatureInvalid),
        ("real-jku-elsewhere", VerificationCodes.KeyNotTrusted),
        ("real-expired-61s", VerificationCodes.Expired),
        ("real-not-yet-valid-61s", VerificationCodes.Expired),
        ("real-wrong-configured-issuer", VerificationCodes.IssuerInvalid),
        ("real-openid-configuration-other-issuer", VerificationCodes.IssuerInvalid),
        ("real-no-jwks", VerificationCodes.CollateralMissing),
        ("real-jwks-kid-renamed", VerificationCodes.KeyNotTrusted),
        ("real-jwks-key-replaced", VerificationCodes.EvidenceSignatureInvalid),
        ("real-jwks-certificate-not-yet-valid", VerificationCodes.CertificateExpired),
        ("real-jwks-keys-not-array", VerificationCodes.CollateralInvalid),
        ("real-two-parts", VerificationCodes.Malformed),
        ("real-four-parts", VerificationCodes.Malformed),
        ("real-padding", VerificationCodes.Malformed),
        ("real-standard-base64-char", VerificationCodes.Malformed),
        ("real-space-inside", VerificationCodes.Malformed),
        ("real-oversized", VerificationCodes.Malformed),

        // A test provider with its own JWKS.
        ("es256-r-s-zero", VerificationCodes.EvidenceSignatureInvalid),
        ("es256-r-zero", VerificationCodes.EvidenceSignatureInvalid),
        ("es256-s-equals-n", VerificationCodes.EvidenceSignatureInvalid),
        ("es256-der-signature", VerificationCodes.EvidenceSignatureInvalid),
        ("hs256-keyed-with-test-public-key", VerificationCodes.AlgorithmNotAllowed),
        ("hs512", VerificationCodes.AlgorithmNotAllowed),
        ("alg-es512", VerificationCodes.AlgorithmNotAllowed),
        ("alg-eddsa", VerificationCodes.AlgorithmNotAllowed),
        ("alg-rs256-with-ec-key", VerificationCodes.AlgorithmNotAllowed),
        ("alg-es384-with-p256-key", VerificationCodes.AlgorithmNotAllowed),
        ("jwks-alg-differs", VerificationCodes.AlgorithmNotAllowed),
        ("header-jwk-embedded", VerificationCodes.KeyNotTrusted),
        ("header-x5c", VerificationCodes.KeyNotTrusted),
        ("header-x5u", VerificationCodes.KeyNotTrusted),
        ("header-x5t", VerificationCodes.KeyNotTrusted),
        ("header-jku-elsewhere", VerificationCodes.KeyNotTrusted),
        ("header-jku-http", VerificationCodes.KeyNotTrusted),
        ("header-crit", VerificationCodes.Unsupported),
        ("kid-unknown", VerificationCodes.KeyNotTrusted),
        ("kid-missing", VerificationCodes.KeyNotTrusted),
        ("jwks-key-use-enc", VerificationCodes.KeyNotTrusted),
        ("jwks-parameters-differ-from-x5c", VerificationCodes.CollateralInvalid),
        ("jwks-two-keys-same-kid", VerificationCodes.CollateralInvalid),
        ("jwks-x5c-not-base64", VerificationCodes.CollateralInvalid),
        ("jwks-x5c-chain-wrong-issuer", VerificationCodes.ChainInvalid),
        ("jwks-certificate-expired", VerificationCodes.CertificateExpired),
        ("iss-missing", VerificationCodes.IssuerInvalid),
        ("iss-missing-no-issuer-configured", VerificationCodes.IssuerInvalid),
        ("iss-wrong", VerificationCodes.IssuerInvalid),
        ("iss-not-a-string", VerificationCodes.IssuerInvalid),
        ("exp-missing", VerificationCodes.Expired),
        ("exp-past", VerificationCodes.Expired),
        ("nbf-future", VerificationCodes.Expired),
        ("exp-string", VerificationCodes.Malformed),
        ("rs256-signature-short", VerificationCodes.EvidenceSignatureInvalid),
        ("ps256-signed-as-rs256", VerificationCodes.EvidenceSignatureInvalid),
        ("header-not-json", VerificationCodes.Malformed),
        ("header-array", VerificationCodes.Malformed),
        ("header-alg-missing", VerificationCodes.Malformed),
        ("header-alg-number", VerificationCodes.Malformed),
        ("header-duplicate-alg", VerificationCodes.Malformed),
        ("claims-duplicate-iss", VerificationCodes.Malformed),
        ("claims-nested-too-deep", VerificationCodes.Malformed),
        ("claims-not-utf8", VerificationCodes.Malformed),
        ("claims-empty-part", VerificationCodes.Malformed),
    ];

    public static TheoryData<string, string> Cases()
    {
        TheoryData<string, string> data = [];
        foreach ((string name, string code) in s_cases)
        {
            data.Add(name, code);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Mutated_token_is_refused_with_the_exact_code(string name, string code)
    {
        Case c = name.StartsWith("real-", StringComparison.Ordinal) ? RealCase(name) : TestCase(name);

        HardwareVerificationReport report = c.Verifier.Verify(c.Token, c.Endorsements, c.At);

        Assert.False(report.Verified);
        Assert.NotEmpty(report.Errors);
        Assert.True(code == report.Errors[0].Code, $"expected {code}, got {string.Join("; ", report.Errors)}");
    }

    [Fact]
    public void Boundaries_of_the_lifetime_with_60_seconds_of_skew_are_accepted()
    {
        var verifier = new MaaVerifier(MaaConformanceTests.SharedWus);
        (long nbf, long exp) = RealLifetime();
        Assert.True(verifier.Verify(RealToken(), RealJwks(), DateTimeOffset.FromUnixTimeSeconds(exp + 60)).Verified);
        Assert.True(verifier.Verify(RealToken(), RealJwks(), DateTimeOffset.FromUnixTimeSeconds(nbf - 60)).Verified);
        Assert.True(new MaaVerifier(MaaConformanceTests.SharedWus + "/").Verify(RealToken(), RealJwks(), MaaConformanceTests.At(Sample)).Verified);
    }

    private static Case RealCase(string name)
    {
        byte[] token = RealToken();
        string text = Encoding.ASCII.GetString(token).TrimEnd();
        string[] parts = text.Split('.');
        EndorsementSet jwks = RealJwks();
        DateTimeOffset at = MaaConformanceTests.At(Sample);
        var verifier = new MaaVerifier(MaaConformanceTests.SharedWus);
        (long nbf, long exp) = RealLifetime();
        switch (name)
        {
            case "real-draft-policy-alg-none":
                string draft = MaaConformanceTests.DraftUnsigned;
                return new(MaaConformanceTests.Token(draft), MaaConformanceTests.Jwks(draft), MaaConformanceTests.At(draft), verifier);
            case "real-alg-none-signature-dropped":
                return new(Ascii(EditHeader(parts, h => h["alg"] = "none").Split('.')[0] + "." + parts[1] + "."), jwks, at, verifier);
            case "real-alg-none-uppercase":
                return new(Ascii(EditHeader(parts, h => h["alg"] = "NONE").Split('.')[0] + "." + parts[1] + "."), jwks, at, verifier);
            case "real-hs256-keyed-with-public-key":
                return new(Ascii(Hmac(EditHeader(parts, h => h["alg"] = "HS256"), RealCertificate().PublicKey.ExportSubjectPublicKeyInfo())), jwks, at, verifier);
            case "real-hs256-keyed-with-certificate":
                return new(Ascii(Hmac(EditHeader(parts, h => h["alg"] = "HS256"), RealCertificate().RawData)), jwks, at, verifier);
            case "real-signature-first-byte":
                return new(Ascii(EditSignature(parts, s => s[0] ^= 0x01)), jwks, at, verifier);
            case "real-signature-last-byte":
                return new(Ascii(EditSignature(parts, s => s[^1] ^= 0x01)), jwks, at, verifier);
            case "real-signature-one-byte-short":
                return new(Ascii($"{parts[0]}.{parts[1]}.{Base64Url.Encode(Base64Url.Decode(parts[2])[..^1])}"), jwks, at, verifier);
            case "real-payload-mrenclave-byte":
                return new(Ascii(EditClaims(parts, c => c["x-ms-sgx-mrenclave"] = "392a1f4b519e46627eb2478a3d9851405653c5b4b0a6925de843834d9216850e")), jwks, at, verifier);
            case "real-payload-debuggable-false":
                return new(Ascii(EditClaims(parts, c => c["x-ms-sgx-is-debuggable"] = false)), jwks, at, verifier);
            case "real-payload-exp-extended":
                return new(Ascii(EditClaims(parts, c => c["exp"] = exp + 86400)), jwks, at, verifier);
            case "real-header-typ-byte":
                return new(Ascii(EditHeader(parts, h => h["typ"] = "JWU")), jwks, at, verifier);
            case "real-jku-elsewhere":
                return new(Ascii(EditHeader(parts, h => h["jku"] = "https://attacker.example/certs")), jwks, at, verifier);
            case "real-expired-61s":
                return new(token, jwks, DateTimeOffset.FromUnixTimeSeconds(exp + 61), verifier);
            case "real-not-yet-valid-61s":
                return new(token, jwks, DateTimeOffset.FromUnixTimeSeconds(nbf - 61), verifier);
            case "real-wrong-configured-issuer":
                return new(token, jwks, at, new MaaVerifier("https://sharedeus.eus.attest.azure.net"));
            case "real-openid-configuration-other-issuer":
                // Same origin as the token's jku, another issuer: the signature holds, the issuer does not.
                byte[] openId = Encoding.UTF8.GetBytes("""{"issuer":"https://sharedwus.wus.attest.azure.net/tenant-b","jwks_uri":"https://sharedwus.wus.attest.azure.net/certs"}""");
                return new(token, RealJwksWith(("openid.json", openId)), at, new MaaVerifier());
            case "real-no-jwks":
                return new(token, EndorsementSet.Empty, at, verifier);
            case "real-jwks-kid-renamed":
                return new(token, EndorsementSet.FromFiles([("jwks.json", Encoding.UTF8.GetBytes(RealJwksText().Replace("XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=", "renamed", StringComparison.Ordinal)))]), at, verifier);
            case "real-jwks-key-replaced":
                using (TestMaaIssuer other = TestMaaIssuer.Create("RS256"))
                {
                    return new(token, other.Endorsements(other.JwkObject("XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=")), at, verifier);
                }

            case "real-jwks-certificate-not-yet-valid":
                return new(token, jwks, new DateTimeOffset(2019, 4, 30, 23, 59, 59, TimeSpan.Zero), verifier);
            case "real-jwks-keys-not-array":
                return new(token, EndorsementSet.FromFiles([("jwks.json", """{"keys":{"kid":"x"}}"""u8.ToArray())]), at, verifier);
            case "real-two-parts":
                return new(Ascii($"{parts[0]}.{parts[1]}"), jwks, at, verifier);
            case "real-four-parts":
                return new(Ascii($"{text}.{parts[2]}"), jwks, at, verifier);
            case "real-padding":
                return new(Ascii($"{parts[0]}.{parts[1]}.{parts[2]}=="), jwks, at, verifier);
            case "real-standard-base64-char":
                return new(Ascii($"{parts[0]}.{parts[1]}.+{parts[2][1..]}"), jwks, at, verifier);
            case "real-space-inside":
                return new(Ascii($"{parts[0]}. {parts[1]}.{parts[2]}"), jwks, at, verifier);
            case "real-oversized":
                return new(Ascii($"{parts[0]}.{parts[1]}{new string('A', 64 * 1024)}.{parts[2]}"), jwks, at, verifier);
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, "unknown case");
        }
    }

    private static Case TestCase(string name)
    {
        string alg = name switch
        {
            "alg-rs256-with-ec-key" => "ES256",
            _ when name.StartsWith("rs256", StringComparison.Ordinal) || name.StartsWith("ps256", StringComparison.Ordinal) => "RS256",
            _ => "ES256",
        };
        TestMaaIssuer issuer = TestMaaIssuer.Create(alg);
        var verifier = new MaaVerifier(TestMaaIssuer.Issuer);
        EndorsementSet jwks = issuer.Endorsements();
        DateTimeOffset at = TestMaaIssuer.At;
        byte[] p256Order = Convert.FromHexString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        Case Signed(Action<JsonObject>? header = null, Action<JsonObject>? claims = null, Func<byte[], byte[]>? signature = null) =>
            new(Ascii(issuer.Token(header, claims, signature)), jwks, at, verifier);

        switch (name)
        {
            case "es256-r-s-zero":
                return Signed(signature: _ => new byte[64]);
            case "es256-r-zero":
                return Signed(signature: s => [.. new byte[32], .. s[32..]]);
            case "es256-s-equals-n":
                return Signed(signature: s => [.. s[..32], .. p256Order]);
            case "es256-der-signature":
                return Signed(signature: s => AsnSignature(s));
            case "hs256-keyed-with-test-public-key":
                string unsigned = issuer.Token(h => h["alg"] = "HS256");
                return new(Ascii(Hmac(unsigned, issuer.Certificate.PublicKey.ExportSubjectPublicKeyInfo())), jwks, at, verifier);
            case "hs512":
                return Signed(h => h["alg"] = "HS512");
            case "alg-es512":
                return Signed(h => h["alg"] = "ES512");
            case "alg-eddsa":
                return Signed(h => h["alg"] = "EdDSA");
            case "alg-rs256-with-ec-key":
                return Signed(h => h["alg"] = "RS256");
            case "alg-es384-with-p256-key":
                return Signed(h => h["alg"] = "ES384");
            case "jwks-alg-differs":
                JsonObject withAlg = issuer.JwkObject();
                withAlg["alg"] = "ES384";
                return Signed() with { Endorsements = issuer.Endorsements(withAlg) };
            case "header-jwk-embedded":
                return Signed(h => h["jwk"] = JsonNode.Parse(Jwk.FromEcPublic(((ECDsa)issuer.Key).ExportParameters(false)).ToJson()));
            case "header-x5c":
                return Signed(h => h["x5c"] = new JsonArray(Convert.ToBase64String(issuer.Certificate.RawData)));
            case "header-x5u":
                return Signed(h => h["x5u"] = $"{TestMaaIssuer.Issuer}/cert.pem");
            case "header-x5t":
                return Signed(h => h["x5t"] = Base64Url.Encode(SHA1.HashData(issuer.Certificate.RawData)));
            case "header-jku-elsewhere":
                return Signed(h => h["jku"] = "https://attacker.example/certs");
            case "header-jku-http":
                return Signed(h => h["jku"] = "http://test-provider.attest.example/certs");
            case "header-crit":
                return Signed(h =>
                {
                    h["crit"] = new JsonArray("exp");
                });
            case "kid-unknown":
                return Signed(h => h["kid"] = "another-key");
            case "kid-missing":
                return Signed(h => h.Remove("kid"));
            case "jwks-key-use-enc":
                JsonObject enc = issuer.JwkObject();
                enc["use"] = "enc";
                return Signed() with { Endorsements = issuer.Endorsements(enc) };
            case "jwks-parameters-differ-from-x5c":
                JsonObject differ = issuer.JwkObject();
                using (ECDsa otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256))
                {
                    ECParameters parameters = otherKey.ExportParameters(false);
                    differ["crv"] = "P-256";
                    differ["x"] = Base64Url.Encode(parameters.Q.X);
                    differ["y"] = Base64Url.Encode(parameters.Q.Y);
                }

                return Signed() with { Endorsements = issuer.Endorsements(differ) };
            case "jwks-two-keys-same-kid":
                using (TestMaaIssuer other = TestMaaIssuer.Create("ES256"))
                {
                    return Signed() with { Endorsements = issuer.Endorsements(issuer.JwkObject(), other.JwkObject(issuer.Kid)) };
                }

            case "jwks-x5c-not-base64":
                JsonObject notBase64 = issuer.JwkObject();
                notBase64["x5c"] = new JsonArray("not base64 at all!");
                return Signed() with { Endorsements = issuer.Endorsements(notBase64) };
            case "jwks-x5c-chain-wrong-issuer":
                using (TestMaaIssuer other = TestMaaIssuer.Create("ES256"))
                {
                    JsonObject chained = issuer.JwkObject();
                    chained["x5c"] = new JsonArray(Convert.ToBase64String(issuer.Certificate.RawData), Convert.ToBase64String(other.Certificate.RawData));
                    return Signed() with { Endorsements = issuer.Endorsements(chained) };
                }

            case "jwks-certificate-expired":
                using (TestMaaIssuer shortLived = TestMaaIssuer.Create("ES256", notAfter: at.AddSeconds(-1)))
                {
                    return new(Ascii(shortLived.Token()), shortLived.Endorsements(), at, verifier);
                }

            case "iss-missing":
                return Signed(claims: c => c.Remove("iss"));
            case "iss-missing-no-issuer-configured":
                return Signed(claims: c => c.Remove("iss")) with { Verifier = new MaaVerifier() };
            case "iss-wrong":
                return Signed(claims: c => c["iss"] = "https://another-provider.attest.example");
            case "iss-not-a-string":
                return Signed(claims: c => c["iss"] = 1);
            case "exp-missing":
                return Signed(claims: c => c.Remove("exp"));
            case "exp-past":
                return Signed(claims: c => c["exp"] = at.AddSeconds(-61).ToUnixTimeSeconds());
            case "nbf-future":
                return Signed(claims: c => c["nbf"] = at.AddSeconds(61).ToUnixTimeSeconds());
            case "exp-string":
                return Signed(claims: c => c["exp"] = at.AddHours(1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
            case "rs256-signature-short":
                return Signed(signature: s => s[..^1]);
            case "ps256-signed-as-rs256":
                // Signed with PKCS#1 v1.5 but labelled PS256.
                string pkcs1 = issuer.Token();
                string[] pieces = pkcs1.Split('.');
                string relabelled = Base64Url.Encode(Encoding.UTF8.GetBytes($$"""{"alg":"PS256","kid":"{{issuer.Kid}}","typ":"JWT"}"""));
                byte[] input = Encoding.ASCII.GetBytes($"{relabelled}.{pieces[1]}");
                byte[] wrongPadding = ((RSA)issuer.Key).SignData(input, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
                return new(Ascii($"{relabelled}.{pieces[1]}.{Base64Url.Encode(wrongPadding)}"), jwks, at, verifier);
            case "header-not-json":
                return Raw("{alg:ES256}", "{}");
            case "header-array":
                return Raw("[\"ES256\"]", "{}");
            case "header-alg-missing":
                return Raw($$"""{"kid":"{{issuer.Kid}}"}""", "{}");
            case "header-alg-number":
                return Raw("""{"alg":-7}""", "{}");
            case "header-duplicate-alg":
                return Raw("""{"alg":"ES256","alg":"none"}""", "{}");
            case "claims-duplicate-iss":
                return Raw("""{"alg":"ES256"}""", $$"""{"iss":"{{TestMaaIssuer.Issuer}}","iss":"https://x"}""");
            case "claims-nested-too-deep":
                return Raw("""{"alg":"ES256"}""", new string('[', 40) + new string(']', 40));
            case "claims-not-utf8":
                return new(Ascii($"{Base64Url.Encode("""{"alg":"ES256"}"""u8)}.{Base64Url.Encode([(byte)'{', 0xC3, 0x28, (byte)'}'])}.AAAA"), jwks, at, verifier);
            case "claims-empty-part":
                return new(Ascii($"{Base64Url.Encode("""{"alg":"ES256"}"""u8)}..AAAA"), jwks, at, verifier);
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, "unknown case");
        }

        Case Raw(string header, string claims) =>
            new(Ascii($"{Base64Url.Encode(Encoding.UTF8.GetBytes(header))}.{Base64Url.Encode(Encoding.UTF8.GetBytes(claims))}.AAAA"), jwks, at, verifier);
    }

    private static byte[] RealToken() => MaaConformanceTests.Token(Sample);

    private static EndorsementSet RealJwks() => MaaConformanceTests.Jwks(Sample);

    private static string RealJwksText() => File.ReadAllText(Support.TestData.PathOf("maa", Sample, "jwks.json"));

    private static EndorsementSet RealJwksWith((string Name, byte[] Bytes) extra) =>
        EndorsementSet.FromFiles([("jwks.json", Encoding.UTF8.GetBytes(RealJwksText())), extra]);

    private static System.Security.Cryptography.X509Certificates.X509Certificate2 RealCertificate()
    {
        JsonNode jwks = JsonNode.Parse(RealJwksText())!;
        JsonNode key = jwks["keys"]!.AsArray().First(k => (string?)k!["kid"] == "XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=")!;
        return System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(Convert.FromBase64String((string)key["x5c"]![0]!));
    }

    private static (long Nbf, long Exp) RealLifetime()
    {
        JsonNode claims = JsonNode.Parse(Base64Url.Decode(Encoding.ASCII.GetString(RealToken()).Split('.')[1]))!;
        return ((long)claims["nbf"]!, (long)claims["exp"]!);
    }

    private static string EditHeader(string[] parts, Action<JsonObject> edit)
    {
        JsonObject header = JsonNode.Parse(Base64Url.Decode(parts[0]))!.AsObject();
        edit(header);
        return $"{Base64Url.Encode(Encoding.UTF8.GetBytes(header.ToJsonString()))}.{parts[1]}.{parts[2]}";
    }

    private static string EditClaims(string[] parts, Action<JsonObject> edit)
    {
        JsonObject claims = JsonNode.Parse(Base64Url.Decode(parts[1]))!.AsObject();
        edit(claims);
        return $"{parts[0]}.{Base64Url.Encode(Encoding.UTF8.GetBytes(claims.ToJsonString()))}.{parts[2]}";
    }

    private static string EditSignature(string[] parts, Action<byte[]> edit)
    {
        byte[] signature = Base64Url.Decode(parts[2]);
        edit(signature);
        return $"{parts[0]}.{parts[1]}.{Base64Url.Encode(signature)}";
    }

    /// <summary>Replaces the signature of a token with HMAC-SHA256 over its signing input under <paramref name="key"/>.</summary>
    private static string Hmac(string token, byte[] key)
    {
        string signingInput = token[..token.LastIndexOf('.')];
        return $"{signingInput}.{Base64Url.Encode(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(signingInput)))}";
    }

    private static byte[] AsnSignature(byte[] p1363)
    {
        System.Formats.Asn1.AsnWriter writer = new(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteIntegerUnsigned(p1363.AsSpan(0, 32));
            writer.WriteIntegerUnsigned(p1363.AsSpan(32));
        }

        return writer.Encode();
    }

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private sealed record Case(byte[] Token, EndorsementSet Endorsements, DateTimeOffset At, MaaVerifier Verifier);
}
