using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

/// <summary>Every reason code is produced by a realistic request against a broker holding a key under
/// the common enclave policy (measurement, sgx/simulated, no debug, SVN >= 2, UpToDate, eu-west).</summary>
public sealed class ReasonCodeTests
{
    private static readonly Dictionary<ReasonCode, Func<BrokerHarness, Task<ReleaseOutcome>>> s_scenarios = new()
    {
        [ReasonCode.TokenInvalid] = h => h.ReleaseAsync(h.Token(c => c.Remove("exp"))),
        [ReasonCode.TokenExpired] = h =>
        {
            string token = h.Token();
            h.Time.Advance(TimeSpan.FromMinutes(12));
            return h.ReleaseAsync(token);
        },
        [ReasonCode.WrongIssuer] = h =>
        {
            using var evil = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            JsonObject claims = h.Claims(h.Broker.IssueNonce().Value);
            claims["iss"] = "https://evil.test";
            return h.ReleaseAsync(h.IssueToken(claims, evil));
        },
        [ReasonCode.WrongAudience] = h => h.ReleaseAsync(h.Token(c => c["aud"] = "another-workload")),
        [ReasonCode.NonceMissing] = h => h.ReleaseAsync(h.Token(c =>
        {
            c.Remove("nonce");
            c["x-ms-runtime"]!.AsObject().Remove("nonce");
        })),
        [ReasonCode.NonceUnknownOrReused] = h => h.ReleaseAsync(h.IssueToken(h.Claims(Base64Url.Encode(RandomNumberGenerator.GetBytes(32))))),
        [ReasonCode.MeasurementNotAllowed] = h => h.ReleaseAsync(h.Token(c => c["x-ms-sgx-mrenclave"] = new string('0', 64))),
        [ReasonCode.DebugNotAllowed] = h => h.ReleaseAsync(h.Token(c => c["x-ms-sgx-is-debuggable"] = true)),
        [ReasonCode.TcbNotAllowed] = h => h.ReleaseAsync(h.Token(c => c["x-enclave-tcb-status"] = "OutOfDate")),
        [ReasonCode.SvnTooLow] = h => h.ReleaseAsync(h.Token(c => c["x-ms-sgx-svn"] = 1)),
        [ReasonCode.AttestationTypeNotAllowed] = h => h.ReleaseAsync(h.Token(c => c["x-ms-attestation-type"] = "sevsnpvm")),
        [ReasonCode.RegionNotAllowed] = h => h.ReleaseAsync(h.Token(c => c["x-enclave-region"] = "us-east")),
        [ReasonCode.PolicyNotSatisfied] = h =>
        {
            string policy = """
                {"version":"1.0.0","anyOf":[{"authority":"https://verifier.test","allOf":[
                  {"claim":"x-ms-sgx-product-id","equals":7}]}]}
                """;
            Assert.True(h.UpdatePolicy(BrokerHarness.KeyName, policy).Succeeded);
            return h.ReleaseAsync(h.Token());
        },
        [ReasonCode.KeyNotFound] = h => h.ReleaseAsync(h.Token(), "fashion-us"),
        [ReasonCode.KeyDisabled] = h =>
        {
            Assert.True(h.SetEnabled(BrokerHarness.KeyName, false).Succeeded);
            return h.ReleaseAsync(h.Token());
        },
        [ReasonCode.NoEncryptionKey] = h => h.ReleaseAsync(h.Token(c =>
        {
            JsonObject runtime = c["x-ms-runtime"]!.AsObject();
            JsonNode keys = runtime["keys"]!.DeepClone();
            runtime["keys"] = new JsonArray(BrokerHarness.PublicSigningJwk(h.EnclaveSigningKey).ToJsonObject());
            c["x-ms-isolation-tee"] = new JsonObject { ["x-ms-runtime"] = new JsonObject { ["keys"] = keys } };
        })),
        [ReasonCode.TokenNotYetValid] = h => h.ReleaseAsync(h.Token(c =>
        {
            long later = h.Time.GetUtcNow().AddMinutes(5).ToUnixTimeSeconds();
            c["nbf"] = later;
            c["iat"] = later;
            c["exp"] = later + 600;
        })),
        [ReasonCode.KeyInTokenHeader] = h => h.ReleaseAsync(TokenAttacks.WithHeader(h, "jku", "https://evil.test/keys")),
        [ReasonCode.AlgorithmNotAllowed] = h => h.ReleaseAsync(TokenAttacks.Hs256WithPublicKey(h)),
        [ReasonCode.SignatureInvalid] = h =>
        {
            using var foreign = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return h.ReleaseAsync(h.IssueToken(h.Claims(h.Broker.IssueNonce().Value), foreign, h.VerifierJwk.Kid));
        },
        [ReasonCode.SignatureScalarInvalid] = h => h.ReleaseAsync(TokenAttacks.ZeroSignature(h.Token())),
        [ReasonCode.UnknownSigningKey] = h =>
        {
            using var foreign = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return h.ReleaseAsync(h.IssueToken(h.Claims(h.Broker.IssueNonce().Value), foreign));
        },
        [ReasonCode.VerifierKeysUnavailable] = h =>
        {
            h.VerifierKeysUnavailable = true;
            return h.ReleaseAsync(h.Token());
        },
        [ReasonCode.TokenLifetimeTooLong] = h => h.ReleaseAsync(h.Token(c => c["exp"] = c["iat"]!.GetValue<long>() + 7200)),
        [ReasonCode.NonceMismatch] = h =>
        {
            string other = h.Broker.IssueNonce().Value;
            return h.ReleaseAsync(h.Token(c => c["x-ms-runtime"]!["nonce"] = other));
        },
        [ReasonCode.UnsupportedTokenHeader] = h => h.ReleaseAsync(TokenAttacks.WithHeader(h, "crit", new JsonArray("exp"))),
        [ReasonCode.NonceReplayed] = async h =>
        {
            string token = h.Token();
            Assert.True((await h.ReleaseAsync(token)).IsGranted);
            return await h.ReleaseAsync(token);
        },
        [ReasonCode.NonceExpired] = h =>
        {
            // The token is still valid; its nonce (five minutes) is not.
            string token = h.Token();
            h.Time.Advance(TimeSpan.FromMinutes(6));
            return h.ReleaseAsync(token);
        },
        [ReasonCode.PrivacyRequired] = h =>
        {
            Assert.True(h.UpdatePolicy(BrokerHarness.KeyName, BrokerHarness.BudgetedPolicy(8)).Succeeded);
            return h.ReleaseAsync(h.Token());
        },
        [ReasonCode.PrivacyBudgetExhausted] = h =>
        {
            Assert.True(h.UpdatePolicy(BrokerHarness.KeyName, BrokerHarness.BudgetedPolicy(1)).Succeeded);
            return h.ReleaseAsync(h.Token(BrokerHarness.Spending(0.1, 0.8, 10_000)));
        },
        [ReasonCode.KeyIntegrityFailure] = h =>
        {
            ReleaseTests.Execute(h.DatabasePath,
                "UPDATE keys SET wrapped_key = (SELECT wrapped_key FROM keys WHERE name LIKE '%/decoy') WHERE name LIKE '%/fashion-eu'");
            return h.ReleaseAsync(h.Token());
        },
    };

    public static TheoryData<ReasonCode> AllReasonCodes() => new(Enum.GetValues<ReasonCode>());

    [Theory]
    [MemberData(nameof(AllReasonCodes))]
    public async Task Reason_code_is_produced_by_a_realistic_case(ReasonCode reason)
    {
        Assert.True(s_scenarios.ContainsKey(reason), $"no scenario for {reason}");
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        Assert.True(harness.Register("decoy", BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey()).Succeeded);

        ReleaseOutcome outcome = await s_scenarios[reason](harness);

        Assert.False(outcome.IsGranted);
        Assert.Null(outcome.WrappedKey);
        Assert.Equal(reason, outcome.Reason);
        Assert.Contains($"\"reason\":\"{reason}\"", harness.Broker.Audit.GetEntry(outcome.AuditSequence!.Value)!.Body, StringComparison.Ordinal);
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }

    [Fact]
    public void Reason_code_names_are_stable()
    {
        Assert.Equal(
            [
                "TokenInvalid", "TokenExpired", "WrongIssuer", "WrongAudience", "NonceMissing", "NonceUnknownOrReused",
                "MeasurementNotAllowed", "DebugNotAllowed", "TcbNotAllowed", "SvnTooLow", "AttestationTypeNotAllowed",
                "RegionNotAllowed", "PolicyNotSatisfied", "KeyNotFound", "KeyDisabled", "NoEncryptionKey",
                "TokenNotYetValid", "KeyIntegrityFailure", "KeyInTokenHeader", "AlgorithmNotAllowed", "SignatureInvalid",
                "SignatureScalarInvalid", "UnknownSigningKey", "VerifierKeysUnavailable", "TokenLifetimeTooLong",
                "NonceMismatch", "UnsupportedTokenHeader", "NonceReplayed", "NonceExpired", "PrivacyRequired",
                "PrivacyBudgetExhausted",
            ],
            Enum.GetNames<ReasonCode>());
    }

    [Fact]
    public async Task Missing_audience_is_wrong_audience()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c => c.Remove("aud")));

        Assert.Equal(ReasonCode.WrongAudience, outcome.Reason);
    }

    [Fact]
    public async Task Token_living_longer_than_allowed_is_refused()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c => c["exp"] = c["iat"]!.GetValue<long>() + 7200));

        Assert.Equal(ReasonCode.TokenLifetimeTooLong, outcome.Reason);
        Assert.Contains("LifetimeTooLong", outcome.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disagreeing_nonces_are_refused()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        string other = harness.Broker.IssueNonce().Value;

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c => c["x-ms-runtime"]!["nonce"] = other));

        Assert.Equal(ReasonCode.NonceMismatch, outcome.Reason);
    }

    [Fact]
    public async Task Runtime_nonce_alone_is_accepted()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c => c.Remove("nonce")));

        Assert.True(outcome.IsGranted, outcome.Detail);
    }

    [Fact]
    public async Task Failed_token_validation_does_not_consume_the_nonce()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        JsonObject claims = harness.Claims(harness.Broker.IssueNonce().Value);
        using var foreign = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.Equal(ReasonCode.SignatureInvalid, (await harness.ReleaseAsync(harness.IssueToken(claims, foreign, harness.VerifierJwk.Kid))).Reason);
        Assert.True((await harness.ReleaseAsync(harness.IssueToken(claims))).IsGranted);
    }
}
