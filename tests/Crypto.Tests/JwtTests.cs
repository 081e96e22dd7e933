using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Enclave.Crypto.Tests;

public sealed class JwtTests : IDisposable
{
    private const string Issuer = "https://verifier.example";
    private const string Audience = "enclave-key-broker";
    private static readonly DateTimeOffset s_now = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly ECDsa _key = TestSupport.NewP256();
    private readonly Jwk _jwk;

    public JwtTests()
    {
        _jwk = TestSupport.PublicJwk(_key, "verifier-1");
    }

    public void Dispose() => _key.Dispose();

    [Fact]
    public void IssuesAndValidates()
    {
        string token = Jwt.Issue(Claims(), _key, "verifier-1");

        JwtValidated validated = Jwt.Validate(token, Parameters());

        Assert.Equal(Issuer, validated.Claims["iss"]!.GetValue<string>());
        Assert.Equal("JWT", validated.Header["typ"]!.GetValue<string>());
        Assert.Equal("verifier-1", validated.Header["kid"]!.GetValue<string>());
        Assert.Equal("simulated", validated.Claims["x-ms-attestation-type"]!.GetValue<string>());
    }

    [Fact]
    public void AcceptsAudienceArray()
    {
        JsonObject claims = Claims();
        claims["aud"] = new JsonArray("someone-else", Audience);

        Jwt.Validate(Jwt.Issue(claims, _key, "verifier-1"), Parameters());
    }

    [Fact]
    public void AudienceIsNotCheckedWhenNotConfigured()
    {
        JsonObject claims = Claims();
        claims.Remove("aud");

        Jwt.Validate(Jwt.Issue(claims, _key, "verifier-1"), Parameters(noAudience: true));
    }

    [Fact]
    public void RejectsExpired()
    {
        JsonObject claims = Claims(iat: -1200, exp: -120);
        AssertCode(JoseError.Expired, claims);
    }

    [Fact]
    public void ToleratesClockSkewOnExpiry()
    {
        JsonObject claims = Claims(iat: -600, exp: -30);
        Jwt.Validate(Jwt.Issue(claims, _key, "verifier-1"), Parameters());
        AssertCode(JoseError.Expired, claims, Parameters(skew: TimeSpan.Zero));
    }

    [Fact]
    public void RejectsNotYetValid()
    {
        JsonObject claims = Claims(iat: 0, nbf: 300, exp: 600);
        AssertCode(JoseError.NotYetValid, claims);
    }

    [Fact]
    public void RejectsIssuedInTheFuture()
    {
        JsonObject claims = Claims(iat: 300, nbf: null, exp: 600);
        AssertCode(JoseError.NotYetValid, claims);
    }

    [Fact]
    public void RejectsWrongIssuer()
    {
        JsonObject claims = Claims();
        claims["iss"] = "https://verifier.example/";
        AssertCode(JoseError.WrongIssuer, claims);
    }

    [Fact]
    public void IssuerComparisonIsCaseSensitive()
    {
        JsonObject claims = Claims();
        claims["iss"] = "https://VERIFIER.example";
        AssertCode(JoseError.WrongIssuer, claims);
    }

    [Fact]
    public void RejectsMissingAudienceWhenRequired()
    {
        JsonObject claims = Claims();
        claims.Remove("aud");
        AssertCode(JoseError.MissingClaim, claims);
    }

    [Fact]
    public void RejectsWrongAudience()
    {
        JsonObject claims = Claims();
        claims["aud"] = new JsonArray("other-workload");
        AssertCode(JoseError.WrongAudience, claims);
    }

    [Fact]
    public void RejectsLifetimeTooLong()
    {
        JsonObject claims = Claims(iat: 0, nbf: 0, exp: 86400);
        AssertCode(JoseError.LifetimeTooLong, claims, Parameters(maxLifetime: TimeSpan.FromMinutes(10)));
    }

    [Fact]
    public void LifetimeIsMeasuredFromTheEarlierOfIatAndNbf()
    {
        JsonObject claims = Claims(iat: -3600, nbf: -30, exp: 540);
        AssertCode(JoseError.LifetimeTooLong, claims, Parameters(maxLifetime: TimeSpan.FromMinutes(10)));
        Jwt.Validate(Jwt.Issue(Claims(iat: -30, nbf: -30, exp: 570), _key, "verifier-1"), Parameters(maxLifetime: TimeSpan.FromMinutes(10)));
    }

    [Fact]
    public void MaxLifetimeNeedsIatOrNbf()
    {
        JsonObject claims = Claims(iat: null, nbf: null, exp: 300);
        AssertCode(JoseError.MissingClaim, claims, Parameters(maxLifetime: TimeSpan.FromMinutes(10)));
    }

    [Theory]
    [InlineData("exp")]
    [InlineData("iss")]
    public void RejectsMissingRequiredClaims(string claim)
    {
        JsonObject claims = Claims();
        claims.Remove(claim);
        AssertCode(JoseError.MissingClaim, claims);
    }

    [Fact]
    public void RejectsNonNumericDates()
    {
        JsonObject claims = Claims();
        claims["exp"] = "1893456600";
        AssertCode(JoseError.Malformed, claims);
    }

    [Fact]
    public void RejectsNonStringAudience()
    {
        JsonObject claims = Claims();
        claims["aud"] = 42;
        AssertCode(JoseError.Malformed, claims);
    }

    [Fact]
    public void RejectsOtherTokenTypes()
    {
        string payload = Claims().ToJsonString();
        string token = TestSupport.SignRaw("""{"alg":"ES256","kid":"verifier-1","typ":"at+jwt"}""", payload, _key);

        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwt.Validate(token, Parameters())).Code);
    }

    [Fact]
    public void RejectsNonObjectPayload()
    {
        string token = TestSupport.SignRaw("""{"alg":"ES256","kid":"verifier-1"}""", "[1,2]", _key);

        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwt.Validate(token, Parameters())).Code);
    }

    [Fact]
    public void SignatureIsCheckedBeforeClaims()
    {
        using ECDsa other = TestSupport.NewP256();
        JsonObject claims = Claims(iat: -1200, exp: -120);
        claims["iss"] = "https://attacker.example";
        string token = Jwt.Issue(claims, other, "verifier-1");

        Assert.Equal(JoseError.BadSignature, Assert.Throws<JoseException>(() => Jwt.Validate(token, Parameters())).Code);
    }

    [Fact]
    public void RejectsAlgNoneToken()
    {
        string token = TestSupport.B64("""{"alg":"none","typ":"JWT"}""") + "." + TestSupport.B64(Claims().ToJsonString()) + ".";

        Assert.Equal(JoseError.UnsupportedAlgorithm, Assert.Throws<JoseException>(() => Jwt.Validate(token, Parameters())).Code);
    }

    [Fact]
    public void ReadsUnverifiedClaims()
    {
        using ECDsa other = TestSupport.NewP256();
        string token = Jwt.Issue(Claims(), other, "whatever");

        JsonObject claims = Jwt.ReadUnverifiedClaims(token);

        Assert.Equal(Issuer, claims["iss"]!.GetValue<string>());
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwt.ReadUnverifiedClaims("abc")).Code);
    }

    private static JsonObject Claims(int? iat = -10, int? nbf = -10, int exp = 590)
    {
        long now = s_now.ToUnixTimeSeconds();
        var claims = new JsonObject
        {
            ["iss"] = Issuer,
            ["aud"] = Audience,
            ["exp"] = now + exp,
            ["jti"] = "0123456789abcdef0123456789abcdef",
            ["x-ms-attestation-type"] = "simulated",
        };
        if (iat is int issued)
        {
            claims["iat"] = now + issued;
        }

        if (nbf is int notBefore)
        {
            claims["nbf"] = now + notBefore;
        }

        return claims;
    }

    private JwtValidationParameters Parameters(TimeSpan? maxLifetime = null, bool noAudience = false, TimeSpan? skew = null) => new()
    {
        ValidIssuers = [Issuer],
        KeyResolver = TestSupport.Resolver(_jwk),
        ValidAudiences = noAudience ? null : [Audience],
        MaxLifetime = maxLifetime,
        ClockSkew = skew ?? TimeSpan.FromSeconds(60),
        Time = new FixedTimeProvider(s_now),
    };

    private void AssertCode(JoseError expected, JsonObject claims, JwtValidationParameters? parameters = null)
    {
        string token = Jwt.Issue(claims, _key, "verifier-1");
        JoseException ex = Assert.Throws<JoseException>(() => Jwt.Validate(token, parameters ?? Parameters()));
        Assert.Equal(expected, ex.Code);
    }
}
