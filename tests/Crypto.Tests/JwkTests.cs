using System.Numerics;
using System.Security.Cryptography;
using System.Text.Json;

namespace Enclave.Crypto.Tests;

public sealed class JwkTests
{
    // RFC 7638 section 3.1.
    private const string Rfc7638Jwk = """
        {
          "kty": "RSA",
          "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
          "e": "AQAB",
          "alg": "RS256",
          "kid": "2011-04-29"
        }
        """;

    [Fact]
    public void ThumbprintMatchesRfc7638Example()
    {
        Jwk jwk = Jwk.Parse(Rfc7638Jwk);

        Assert.Equal("RSA", jwk.Kty);
        Assert.Equal("2011-04-29", jwk.Kid);
        Assert.Equal("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", jwk.ComputeThumbprint());
        using RSA rsa = jwk.CreateRsa();
        Assert.Equal(2048, rsa.KeySize);
    }

    [Fact]
    public void RsaFromParametersRoundTrips()
    {
        Jwk jwk = Jwk.FromRsaPublic(TestSupport.Rsa2048.ExportParameters(false), "rsa-1", "enc");
        Jwk parsed = Jwk.Parse(jwk.ToJson());

        Assert.True(parsed.HasSameKey(jwk));
        Assert.Equal("rsa-1", parsed.Kid);
        Assert.Equal("enc", parsed.Use);
        Assert.Equal(jwk.ComputeThumbprint(), parsed.ComputeThumbprint());
        Assert.Equal($$"""{"e":"AQAB","kty":"RSA","n":"{{jwk.N}}","kid":"rsa-1","use":"enc"}""", jwk.ToJson());
    }

    [Theory]
    [InlineData(256)]
    [InlineData(384)]
    public void EcFromParametersRoundTripsWithoutPrivateScalar(int bits)
    {
        using ECDsa key = bits == 256 ? TestSupport.NewP256() : TestSupport.NewP384();
        Jwk jwk = Jwk.FromEcPublic(key.ExportParameters(true), "k1", "sig");

        string json = jwk.ToJson();
        Assert.DoesNotContain("\"d\"", json, StringComparison.Ordinal);
        Assert.StartsWith("{\"crv\":\"P-" + bits + "\",\"kty\":\"EC\",\"x\":", json, StringComparison.Ordinal);

        Jwk parsed = Jwk.Parse(json);
        Assert.True(parsed.HasSameKey(jwk));
        Assert.Equal(jwk.ComputeThumbprint(), parsed.ComputeThumbprint());
        using ECDsa verifier = parsed.CreateECDsa();
        byte[] data = [1, 2, 3];
        HashAlgorithmName hash = bits == 256 ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA384;
        byte[] signature = key.SignData(data, hash);
        Assert.True(verifier.VerifyData(data, signature, hash));
    }

    [Fact]
    public void EcThumbprintUsesRequiredMembersOnly()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk plain = TestSupport.PublicJwk(key);
        Jwk decorated = TestSupport.PublicJwk(key, "some-kid", "sig");
        string canonical = $"{{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"{plain.X}\",\"y\":\"{plain.Y}\"}}";

        Assert.Equal(plain.ComputeThumbprint(), decorated.ComputeThumbprint());
        Assert.Equal(Base64Url.Encode(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(canonical))), plain.ComputeThumbprint());
    }

    [Theory]
    [InlineData("d")]
    [InlineData("p")]
    [InlineData("q")]
    [InlineData("dp")]
    [InlineData("dq")]
    [InlineData("qi")]
    [InlineData("oth")]
    [InlineData("k")]
    public void RejectsPrivateMembers(string member)
    {
        using ECDsa key = TestSupport.NewP256();
        string json = TestSupport.PublicJwk(key).ToJson().TrimEnd('}') + $",\"{member}\":\"AAAA\"}}";

        JoseException ex = Assert.Throws<JoseException>(() => Jwk.Parse(json));
        Assert.Equal(JoseError.UnsupportedKey, ex.Code);
    }

    [Fact]
    public void RejectsPointNotOnCurve()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key);
        byte[] y = Base64Url.Decode(jwk.Y!);
        y[^1] ^= 1;
        string json = $"{{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"{jwk.X}\",\"y\":\"{Base64Url.Encode(y)}\"}}";

        JoseException ex = Assert.Throws<JoseException>(() => Jwk.Parse(json));
        Assert.Equal(JoseError.UnsupportedKey, ex.Code);
    }

    [Fact]
    public void RejectsP256PointPresentedAsP384()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk jwk = TestSupport.PublicJwk(key);
        string json = $"{{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"{jwk.X}\",\"y\":\"{jwk.Y}\"}}";

        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwk.Parse(json)).Code);
    }

    [Theory]
    [InlineData("""{"kty":"oct","alg":"HS256"}""", JoseError.UnsupportedKey)]
    [InlineData("""{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}""", JoseError.UnsupportedKey)]
    [InlineData("""{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}""", JoseError.UnsupportedKey)]
    [InlineData("""{"kty":"EC","crv":"P-256","x":"AA"}""", JoseError.Malformed)]
    [InlineData("""{"kty":"EC","crv":"P-256","x":"AA==","y":"AA"}""", JoseError.Malformed)]
    [InlineData("""{"crv":"P-256"}""", JoseError.Malformed)]
    [InlineData("""{"kty":1}""", JoseError.Malformed)]
    [InlineData("""{"kty":"EC","kty":"RSA"}""", JoseError.Malformed)]
    [InlineData("""[{"kty":"EC"}]""", JoseError.Malformed)]
    [InlineData("""{"kty":"RSA","n":"AQAB","e":"AQAB"}""", JoseError.UnsupportedKey)]
    [InlineData("""{"kty":"RSA","n":"AAAB","e":"AQAB"}""", JoseError.Malformed)]
    [InlineData("not json", JoseError.Malformed)]
    public void RejectsBadKeys(string json, JoseError expected)
    {
        JoseException ex = Assert.Throws<JoseException>(() => Jwk.Parse(json));
        Assert.Equal(expected, ex.Code);
    }

    [Fact]
    public void RejectsSmallRsaKey()
    {
        using RSA small = RSA.Create(1024);
        Assert.Equal(JoseError.UnsupportedKey, Assert.Throws<JoseException>(() => Jwk.FromRsaPublic(small.ExportParameters(false))).Code);
    }

    [Fact]
    public void RejectsUnsupportedCurveParameters()
    {
        using ECDsa p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        Assert.Equal(JoseError.UnsupportedKey, Assert.Throws<JoseException>(() => Jwk.FromEcPublic(p521.ExportParameters(false))).Code);
    }

    [Fact]
    public void WrongKeyTypeCannotCreateOtherAlgorithm()
    {
        using ECDsa key = TestSupport.NewP256();
        Jwk ec = TestSupport.PublicJwk(key);
        Assert.Equal(JoseError.UnsupportedKey, Assert.Throws<JoseException>(() => ec.CreateRsa()).Code);
        Jwk rsa = Jwk.Parse(Rfc7638Jwk);
        Assert.Equal(JoseError.UnsupportedKey, Assert.Throws<JoseException>(() => rsa.CreateECDsa()).Code);
    }

    [Fact]
    public void ParsesFromJsonElement()
    {
        using JsonDocument document = JsonDocument.Parse(Rfc7638Jwk);
        Assert.Equal("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", Jwk.Parse(document.RootElement).ComputeThumbprint());
    }

    [Theory]
    [InlineData(256)]
    [InlineData(384)]
    public void CurveConstantsMatchThePlatform(int bits)
    {
        using ECDsa key = bits == 256 ? TestSupport.NewP256() : TestSupport.NewP384();
        ECParameters explicitParameters = key.ExportExplicitParameters(false);
        EcCurve curve = bits == 256 ? EcCurve.P256 : EcCurve.P384;

        Assert.Equal(explicitParameters.Curve.Order, curve.Order.ToArray());
        Assert.Equal(new BigInteger(explicitParameters.Curve.Prime, isUnsigned: true, isBigEndian: true), curve.Prime);
        Assert.Equal(new BigInteger(explicitParameters.Curve.B, isUnsigned: true, isBigEndian: true), curve.B);
        Assert.True(curve.IsOnCurve(explicitParameters.Curve.G.X, explicitParameters.Curve.G.Y));
    }
}

public sealed class JwkSetTests
{
    [Fact]
    public void RoundTripsAndFinds()
    {
        using ECDsa a = TestSupport.NewP256();
        using ECDsa b = TestSupport.NewP384();
        var set = new JwkSet([TestSupport.PublicJwk(a, "a"), TestSupport.PublicJwk(b, "b")]);

        JwkSet parsed = JwkSet.Parse(set.ToJson());

        Assert.Equal(2, parsed.Keys.Count);
        Assert.Equal("P-384", parsed.Find("b")!.Crv);
        Assert.Null(parsed.Find("c"));
        Assert.Null(parsed.Find("A"));
    }

    [Fact]
    public void SkipsUnsupportedKeyTypes()
    {
        using ECDsa a = TestSupport.NewP256();
        string json = $$"""{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"},{{TestSupport.PublicJwk(a, "a").ToJson()}},{"kty":"EC","crv":"P-521","x":"AA","y":"AA","kid":"p521"}]}""";

        JwkSet set = JwkSet.Parse(json);

        Assert.Single(set.Keys);
        Assert.NotNull(set.Find("a"));
    }

    [Fact]
    public void RejectsDuplicateKidAndPrivateKeys()
    {
        using ECDsa a = TestSupport.NewP256();
        string key = TestSupport.PublicJwk(a, "a").ToJson();
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => JwkSet.Parse($$"""{"keys":[{{key}},{{key}}]}""")).Code);
        Assert.Throws<ArgumentException>(() => new JwkSet([TestSupport.PublicJwk(a, "a"), TestSupport.PublicJwk(a, "a")]));

        string withPrivate = """{"keys":[{"kty":"oct","k":"AAAA","kid":"s"}]}""";
        Assert.Equal(JoseError.UnsupportedKey, Assert.Throws<JoseException>(() => JwkSet.Parse(withPrivate)).Code);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"keys":{}}""")]
    [InlineData("[]")]
    [InlineData("""{"keys":[1]}""")]
    public void RejectsMalformedSets(string json)
    {
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => JwkSet.Parse(json)).Code);
    }
}
