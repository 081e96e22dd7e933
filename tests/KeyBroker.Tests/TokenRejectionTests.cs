using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

/// <summary>Each token rule of the broker rejects with its own reason code, the rejection is audited with
/// the reason and the token id, and a rejected token does not use up the nonce.</summary>
public sealed class TokenRejectionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Hs256_keyed_with_the_verifiers_public_key_is_refused(bool rawPoint)
    {
        await AssertRejected(h => TokenAttacks.Hs256WithPublicKey(h, rawPoint), ReasonCode.AlgorithmNotAllowed);
    }

    [Fact]
    public async Task A_header_whose_member_name_is_not_utf8_is_a_typed_rejection()
    {
        // Found by the broker-token fuzz target: {"a<0x85>":1,"alg":"ES256"} as the header threw instead of rejecting.
        byte[] header = [.. "{\"a"u8, 0x85, .. "\":1,\"alg\":\"ES256\"}"u8];
        string token = Enclave.Crypto.Base64Url.Encode(header) + "." + Enclave.Crypto.Base64Url.Encode("{\"jti\":\"t-utf8\"}"u8) + ".AAAA";
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(token);

        Assert.False(outcome.IsGranted);
        Assert.Equal(ReasonCode.TokenInvalid, outcome.Reason);
    }

    [Theory]
    [InlineData("kid")]
    [InlineData("alg")]
    [InlineData("jku")]
    public async Task A_header_with_a_duplicate_member_is_a_typed_rejection(string member)
    {
        // Found by the broker-token fuzz target: duplicate header members threw instead of rejecting.
        string header = "{\"alg\":\"ES256\",\"" + member + "\":\"a\",\"" + member + "\":\"b\"}";
        string token = Enclave.Crypto.Base64Url.Encode(System.Text.Encoding.UTF8.GetBytes(header)) + "." + Enclave.Crypto.Base64Url.Encode("{\"jti\":\"t-dup\"}"u8) + ".AAAA";
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(token);

        Assert.False(outcome.IsGranted);
        Assert.Equal(ReasonCode.TokenInvalid, outcome.Reason);
    }

    [Fact]
    public async Task Alg_none_is_refused()
    {
        await AssertRejected(TokenAttacks.AlgNone, ReasonCode.AlgorithmNotAllowed);
    }

    [Fact]
    public async Task Embedded_jwk_signed_by_the_attacker_is_refused()
    {
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await AssertRejected(
            h => TokenAttacks.WithHeader(h, "jwk", BrokerHarness.PublicSigningJwk(attacker).ToJsonObject(), attacker),
            ReasonCode.KeyInTokenHeader);
    }

    [Theory]
    [InlineData("jku", "https://evil.test/jwks.json")]
    [InlineData("x5u", "https://evil.test/cert.pem")]
    [InlineData("x5c", "MIIB")]
    [InlineData("x5t", "AAAA")]
    [InlineData("x5t#S256", "AAAA")]
    public async Task Header_naming_a_key_elsewhere_is_refused_even_with_a_genuine_signature(string member, string value)
    {
        JsonNode node = member == "x5c" ? new JsonArray(value) : JsonValue.Create(value);

        ReleaseOutcome outcome = await AssertRejected(h => TokenAttacks.WithHeader(h, member, node.DeepClone()), ReasonCode.KeyInTokenHeader);

        Assert.Contains($"\"{member}\"", outcome.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ecdsa_r_and_s_zero_is_refused_before_verification()
    {
        await AssertRejected(h => TokenAttacks.ZeroSignature(h.Token()), ReasonCode.SignatureScalarInvalid);
    }

    [Fact]
    public async Task Ecdsa_r_equal_to_the_curve_order_is_refused()
    {
        await AssertRejected(h => TokenAttacks.OrderSignature(h.Token()), ReasonCode.SignatureScalarInvalid);
    }

    [Fact]
    public async Task Foreign_issuer_is_refused()
    {
        await AssertRejected(
            h =>
            {
                using var evil = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                JsonObject claims = h.Claims(h.Broker.IssueNonce().Value);
                claims["iss"] = "https://evil.test";
                return h.IssueToken(claims, evil);
            },
            ReasonCode.WrongIssuer);
    }

    [Fact]
    public async Task Issuer_spelled_with_another_case_is_foreign()
    {
        await AssertRejected(h => h.Token(c => c["iss"] = "https://VERIFIER.test"), ReasonCode.WrongIssuer);
    }

    [Fact]
    public async Task Expired_token_is_refused_beyond_the_skew_only()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        string withinSkew = harness.Token(c => c["exp"] = c["iat"]!.GetValue<long>() + 30);
        string expired = harness.Token(c => c["exp"] = c["iat"]!.GetValue<long>() + 30);
        harness.Time.Advance(TimeSpan.FromSeconds(80));

        Assert.True((await harness.ReleaseAsync(withinSkew)).IsGranted);
        harness.Time.Advance(TimeSpan.FromSeconds(20));
        ReleaseOutcome outcome = await harness.ReleaseAsync(expired);

        Assert.Equal(ReasonCode.TokenExpired, outcome.Reason);
        AssertAudited(harness, outcome);
    }

    [Fact]
    public async Task Token_not_yet_valid_is_refused()
    {
        await AssertRejected(h => h.Token(c => c["nbf"] = c["iat"]!.GetValue<long>() + 300), ReasonCode.TokenNotYetValid);
    }

    [Fact]
    public async Task Token_issued_in_the_future_is_refused()
    {
        await AssertRejected(h => h.Token(c =>
        {
            c["iat"] = c["iat"]!.GetValue<long>() + 300;
            c["exp"] = c["iat"]!.GetValue<long>() + 600;
        }), ReasonCode.TokenNotYetValid);
    }

    [Fact]
    public async Task Wrong_audience_is_refused()
    {
        await AssertRejected(h => h.Token(c => c["aud"] = "another-workload"), ReasonCode.WrongAudience);
    }

    [Fact]
    public async Task Replayed_nonce_is_refused_and_audited()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        string token = harness.Token();
        Assert.True((await harness.ReleaseAsync(token)).IsGranted);

        ReleaseOutcome replay = await harness.ReleaseAsync(token);

        Assert.Equal(ReasonCode.NonceReplayed, replay.Reason);
        AssertAudited(harness, replay);
    }

    [Fact]
    public async Task Nonce_not_issued_by_the_broker_is_refused()
    {
        await AssertRejected(h => h.IssueToken(h.Claims(Crypto.Base64Url.Encode(RandomNumberGenerator.GetBytes(32)))), ReasonCode.NonceUnknownOrReused, checkNonce: false);
    }

    [Fact]
    public async Task Critical_header_is_refused()
    {
        await AssertRejected(h => TokenAttacks.WithHeader(h, "crit", new JsonArray("x-enclave")), ReasonCode.UnsupportedTokenHeader);
    }

    [Fact]
    public async Task Es384_is_allowed_but_rs256_is_not()
    {
        await AssertRejected(
            h =>
            {
                var header = new JsonObject { ["alg"] = "RS256", ["kid"] = h.VerifierJwk.Kid, ["typ"] = "JWT" };
                return TokenAttacks.Sign(header, h.Claims(h.Broker.IssueNonce().Value), h.VerifierKey);
            },
            ReasonCode.AlgorithmNotAllowed);
    }

    /// <summary>Builds a hostile token for a fresh nonce, expects the reason, checks the audit entry, and
    /// checks that a genuine token for the same nonce still succeeds (the nonce was not consumed).</summary>
    private static async Task<ReleaseOutcome> AssertRejected(Func<BrokerHarness, string> makeToken, ReasonCode expected, bool checkNonce = true)
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        string token = makeToken(harness);

        ReleaseOutcome outcome = await harness.ReleaseAsync(token);

        Assert.False(outcome.IsGranted);
        Assert.Null(outcome.WrappedKey);
        Assert.Equal(expected, outcome.Reason);
        Assert.Equal(expected.ToString(), outcome.WireReason);
        AssertAudited(harness, outcome);
        if (checkNonce)
        {
            string nonce = Crypto.Jwt.ReadUnverifiedClaims(token)["nonce"]!.GetValue<string>();
            Assert.True((await harness.ReleaseAsync(harness.IssueToken(harness.Claims(nonce)))).IsGranted, "the rejected token consumed the nonce");
        }

        return outcome;
    }

    private static void AssertAudited(BrokerHarness harness, ReleaseOutcome outcome)
    {
        JsonObject body = JsonNode.Parse(harness.Broker.Audit.GetEntry(outcome.AuditSequence!.Value)!.Body)!.AsObject();
        Assert.Equal(outcome.Reason.ToString(), body["reason"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty((body["jti"] ?? body["unverifiedJti"])?.GetValue<string>()), "the entry names no token id");
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }
}
