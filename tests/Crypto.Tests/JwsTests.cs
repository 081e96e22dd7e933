using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Enclave.Crypto.Tests;

public sealed class JwsTests
{
    // RFC 7515 appendix A.3 (ES256).
    private const string A3Header = "eyJhbGciOiJFUzI1NiJ9";
    private const string A3Payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    private const string A3Signature = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    private const string A3Key = """{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}""";

    private const string Payload = """{"iss":"https://verifier.example","exp":1900000000}""";

    [Fact]
    public void VerifiesRfc7515AppendixA3()
    {
        Jwk key = Jwk.Parse(A3Key);

        JwsVerified verified = Jws.Verify($"{A3Header}.{A3Payload}.{A3Signature}", kid => kid is null ? key : null);

        Assert.Equal("ES256", verified.Algorithm);
        Assert.Null(verified.Kid);
        Assert.Equal(Base64Url.Decode(A3Payload), verified.Payload);
        Assert.StartsWith("{\"iss\":\"joe\",\r\n", Encoding.UTF8.GetString(verified.Payload), StringComparison.Ordinal);
    }

    [Fact]
    public void Rfc7515AppendixA3WithAlteredPayloadFails()
    {
        Jwk key = Jwk.Parse(A3Key);
        string altered = $"{A3Header}.{TestSupport.B64("{\"iss\":\"joe\"}")}.{A3Signature}";

        Assert.Equal(JoseError.BadSignature, Assert.Throws<JoseException>(() => Jws.Verify(altered, _ => key)).Code);
    }

    [Fact]
    public void SignAndVerifyRoundTripEs256()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        byte[] payload = Encoding.UTF8.GetBytes(Payload);

        string token = Jws.Sign(payload, key, "k1");
        JwsVerified verified = Jws.Verify(token, TestSupport.Resolver(jwk));

        Assert.Equal(payload, verified.Payload);
        Assert.Equal("k1", verified.Kid);
        Assert.Equal("ES256", verified.Algorithm);
        Assert.Equal("JWT", verified.Header["typ"]!.GetValue<string>());
        Assert.Equal("""{"alg":"ES256","kid":"k1","typ":"JWT"}""", Encoding.UTF8.GetString(Base64Url.Decode(token.Split('.')[0])));
    }

    [Fact]
    public void SignOmitsNullKidAndTyp()
    {
        using ECDsa key = TestSupport.NewP256();
        string token = Jws.Sign([], key, null, null);

        Assert.Equal("""{"alg":"ES256"}""", Encoding.UTF8.GetString(Base64Url.Decode(token.Split('.')[0])));
        JwsVerified verified = Jws.Verify(token, kid => kid is null ? TestSupport.PublicJwk(key) : null);
        Assert.Empty(verified.Payload);
    }

    [Fact]
    public void Es384RequiresExplicitPermission()
    {
        using ECDsa key = TestSupport.NewP384();
        Jwk jwk = TestSupport.PublicJwk(key, "k384");
        string token = Jws.Sign("hello"u8, key, "k384");

        Assert.Equal(JoseError.UnsupportedAlgorithm, Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(jwk))).Code);
        JwsVerified verified = Jws.Verify(token, TestSupport.Resolver(jwk), ["ES384"]);
        Assert.Equal("ES384", verified.Algorithm);
        Assert.Equal(96, Base64Url.Decode(token.Split('.')[2]).Length);
    }

    [Fact]
    public void Rs256VerifiesWhenAllowed()
    {
        Jwk jwk = Jwk.FromRsaPublic(TestSupport.Rsa2048.ExportParameters(false), "rsa");
        string input = TestSupport.B64("""{"alg":"RS256","kid":"rsa"}""") + "." + TestSupport.B64(Payload);
        byte[] signature = TestSupport.Rsa2048.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        string token = input + "." + Base64Url.Encode(signature);

        Assert.Equal(JoseError.UnsupportedAlgorithm, Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(jwk))).Code);
        Assert.Equal("RS256", Jws.Verify(token, TestSupport.Resolver(jwk), ["RS256"]).Algorithm);
    }

    [Theory]
    [InlineData("""{"alg":"none"}""")]
    [InlineData("""{"alg":"None","kid":"k1"}""")]
    public void RejectsAlgNone(string header)
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = TestSupport.B64(header) + "." + TestSupport.B64(Payload) + ".";

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(token, _ => jwk, ["ES256", "none"]));
        Assert.Equal(JoseError.UnsupportedAlgorithm, ex.Code);
    }

    [Fact]
    public void RejectsHs256SignedWithThePublicKey()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string input = TestSupport.B64("""{"alg":"HS256","kid":"k1"}""") + "." + TestSupport.B64(Payload);
        foreach (byte[] secret in new[] { Encoding.UTF8.GetBytes(jwk.ToJson()), key.ExportSubjectPublicKeyInfo() })
        {
            string token = input + "." + Base64Url.Encode(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(input)));

            JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(jwk), ["ES256", "HS256"]));
            Assert.Equal(JoseError.UnsupportedAlgorithm, ex.Code);
        }
    }

    [Fact]
    public void RejectsEmbeddedJwkSignedByTheAttacker()
    {
        using ECDsa trusted = TestSupport.NewP256();
        using ECDsa attacker = TestSupport.NewP256();
        Jwk trustedJwk = TestSupport.PublicJwk(trusted, "k1");
        string header = $$"""{"alg":"ES256","kid":"k1","jwk":{{TestSupport.PublicJwk(attacker).ToJson()}}}""";
        string token = TestSupport.SignRaw(header, Payload, attacker);

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(trustedJwk)));
        Assert.Equal(JoseError.ForbiddenHeader, ex.Code);
    }

    [Theory]
    [InlineData("""{"alg":"ES256","kid":"k1","jku":"https://attacker.example/jwks"}""")]
    [InlineData("""{"alg":"ES256","kid":"k1","x5u":"https://attacker.example/cert.pem"}""")]
    [InlineData("""{"alg":"ES256","kid":"k1","x5c":["MIIB"]}""")]
    [InlineData("""{"alg":"ES256","kid":"k1","x5t":"AAAA"}""")]
    [InlineData("""{"alg":"ES256","kid":"k1","x5t#S256":"AAAA"}""")]
    [InlineData("""{"alg":"ES256","kid":"k1","crit":["exp"],"exp":1}""")]
    [InlineData("""{"alg":"ES256","kid":"k1","crit":[]}""")]
    [InlineData("""{"alg":"ES256","kid":"k1","b64":false,"crit":["b64"]}""")]
    [InlineData("""{"alg":"ES256","kid":"k1","b64":true}""")]
    public void RejectsKeySourcesAndCriticalExtensionsEvenWhenValidlySigned(string header)
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = TestSupport.SignRaw(header, Payload, key);

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(jwk)));
        Assert.Equal(JoseError.ForbiddenHeader, ex.Code);
    }

    [Fact]
    public void RejectsZeroSignature()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = TestSupport.WithSignature(Jws.Sign(Encoding.UTF8.GetBytes(Payload), key, "k1"), new byte[64]);

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(jwk)));
        Assert.Equal(JoseError.BadSignature, ex.Code);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RejectsScalarsAtOrAboveTheOrder(bool replaceR)
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = Jws.Sign(Encoding.UTF8.GetBytes(Payload), key, "k1");
        byte[] signature = Base64Url.Decode(token.Split('.')[2]);
        EcCurve.P256.Order.CopyTo(signature.AsSpan(replaceR ? 0 : 32));

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(TestSupport.WithSignature(token, signature), TestSupport.Resolver(jwk)));
        Assert.Equal(JoseError.BadSignature, ex.Code);
    }

    [Theory]
    [InlineData(63)]
    [InlineData(65)]
    [InlineData(0)]
    public void RejectsSignatureOfWrongLength(int length)
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = Jws.Sign(Encoding.UTF8.GetBytes(Payload), key, "k1");
        byte[] signature = Base64Url.Decode(token.Split('.')[2]);
        byte[] resized = new byte[length];
        signature.AsSpan(0, Math.Min(length, 64)).CopyTo(resized);

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(TestSupport.WithSignature(token, resized), TestSupport.Resolver(jwk)));
        Assert.Equal(JoseError.BadSignature, ex.Code);
    }

    [Fact]
    public void RejectsDerEncodedSignature()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = Jws.Sign(Encoding.UTF8.GetBytes(Payload), key, "k1");
        string input = token.Substring(0, token.LastIndexOf('.'));
        byte[] der = key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(TestSupport.WithSignature(token, der), TestSupport.Resolver(jwk)));
        Assert.Equal(JoseError.BadSignature, ex.Code);
    }

    [Fact]
    public void RejectsUnknownKid()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = Jws.Sign(Encoding.UTF8.GetBytes(Payload), key, "k2");

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(jwk)));
        Assert.Equal(JoseError.UnknownKey, ex.Code);
    }

    [Fact]
    public void RejectsSignatureByAnotherKeyUnderTheSameKid()
    {
        using ECDsa key = TestSupport.NewP256();
        using ECDsa other = TestSupport.NewP256();
        string token = Jws.Sign(Encoding.UTF8.GetBytes(Payload), other, "k1");

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(TestSupport.PublicJwk(key, "k1"))));
        Assert.Equal(JoseError.BadSignature, ex.Code);
    }

    [Fact]
    public void RejectsTamperedPayload()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = Jws.Sign(Encoding.UTF8.GetBytes(Payload), key, "k1");
        string tampered = TestSupport.ReplacePart(token, 1, TestSupport.B64(Payload.Replace("1900000000", "1900000001", StringComparison.Ordinal)));

        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(tampered, TestSupport.Resolver(jwk)));
        Assert.Equal(JoseError.BadSignature, ex.Code);
    }

    [Fact]
    public void RejectsKeyOfTheWrongCurveOrUse()
    {
        using ECDsa key = TestSupport.NewP256();
        using ECDsa p384 = TestSupport.NewP384();
        string token = Jws.Sign(Encoding.UTF8.GetBytes(Payload), key, "k1");

        Assert.Equal(JoseError.UnsupportedKey, Assert.Throws<JoseException>(() => Jws.Verify(token, _ => TestSupport.PublicJwk(p384, "k1"))).Code);
        Assert.Equal(JoseError.UnsupportedKey, Assert.Throws<JoseException>(() => Jws.Verify(token, _ => TestSupport.PublicJwk(key, "k1", "enc"))).Code);
    }

    [Theory]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("..")]
    [InlineData("eyJhbGciOiJFUzI1NiJ9.e30=.AAAA")]
    [InlineData("eyJhbGciOiJFUzI1NiJ9.e30.AA AA")]
    [InlineData("bm90IGpzb24.e30.AAAA")]
    [InlineData("W10.e30.AAAA")]
    public void RejectsMalformedTokens(string token)
    {
        JoseException ex = Assert.Throws<JoseException>(() => Jws.Verify(token, _ => null));
        Assert.Equal(JoseError.Malformed, ex.Code);
    }

    [Fact]
    public void RejectsDuplicateHeaderParameters()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key, "k1");
        string token = TestSupport.SignRaw("""{"alg":"ES256","kid":"k1","alg":"none"}""", Payload, key);

        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jws.Verify(token, TestSupport.Resolver(jwk))).Code);
    }

    [Fact]
    public void RejectsOversizedToken()
    {
        using ECDsa key = TestSupport.NewP256();
        string token = Jws.Sign(new byte[49 * 1024], key, "k1");

        Assert.True(token.Length > Jws.MaxTokenLength);
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jws.Verify(token, _ => TestSupport.PublicJwk(key, "k1"))).Code);
    }

    [Fact]
    public void HeaderIsReturnedAsJson()
    {
        using ECDsa key = TestSupport.NewP256();
        string token = TestSupport.SignRaw("""{"alg":"ES256","kid":"k1","typ":"JWT","x-extra":{"a":1}}""", Payload, key);

        JwsVerified verified = Jws.Verify(token, TestSupport.Resolver(TestSupport.PublicJwk(key, "k1")));

        Assert.Equal(JsonValueKind.Object, verified.Header["x-extra"]!.GetValueKind());
    }
}
