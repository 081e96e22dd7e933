using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tests.Support;
using Microsoft.Data.Sqlite;

namespace Enclave.KeyBroker.Tests;

/// <summary>Attested release end to end, with real ES256 tokens from a test verifier key.</summary>
public sealed class ReleaseTests
{
    [Fact]
    public async Task Rsa_encryption_key_of_the_enclave_is_supported()
    {
        using var harness = new BrokerHarness();
        byte[] dataKey = harness.RegisterDefaultKey();
        using RSA rsa = RSA.Create(2048);
        Jwk rsaJwk = Jwk.FromRsaPublic(rsa.ExportParameters(false), "enc", "enc");

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c =>
            c["x-ms-runtime"]!["keys"] = new JsonArray(rsaJwk.ToJsonObject())));

        Assert.True(outcome.IsGranted, outcome.Detail);
        Assert.Equal(dataKey, Jwe.Decrypt(outcome.WrappedKey!, rsa));
    }

    [Fact]
    public async Task The_first_enc_key_of_the_top_level_runtime_keys_is_used()
    {
        using var harness = new BrokerHarness();
        byte[] dataKey = harness.RegisterDefaultKey();
        using var other = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        Jwk otherJwk = Jwk.FromEcPublic(other.ExportParameters(false), "enc2", "enc");
        Jwk sig = BrokerHarness.PublicSigningJwk(harness.EnclaveSigningKey);

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c =>
            c["x-ms-runtime"]!["keys"] = new JsonArray(sig.ToJsonObject(), harness.EncryptionJwk().ToJsonObject(), otherJwk.ToJsonObject())));

        Assert.Equal(dataKey, Jwe.Decrypt(outcome.WrappedKey!, harness.EnclaveEncryptionKey));
    }

    [Fact]
    public async Task Latest_version_is_released()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        byte[] second = BrokerHarness.NewDataKey();
        Assert.Equal(2, harness.Register(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), second).KeyVersion);

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token());

        Assert.Equal(2, outcome.KeyVersion);
        Assert.Equal(second, Jwe.Decrypt(outcome.WrappedKey!, harness.EnclaveEncryptionKey));
    }

    [Fact]
    public async Task Nonce_that_expired_before_use_is_denied_although_the_token_is_valid()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        string nonce = harness.Broker.IssueNonce().Value;
        harness.Time.Advance(TimeSpan.FromMinutes(6));

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.IssueToken(harness.Claims(nonce)));

        Assert.Equal(ReasonCode.NonceExpired, outcome.Reason);
    }

    [Fact]
    public async Task Unknown_key_and_policy_failure_look_the_same_on_the_wire()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();

        ReleaseOutcome unknown = await harness.ReleaseAsync(harness.Token(), "no-such-key");
        ReleaseOutcome traversal = await harness.ReleaseAsync(harness.Token(), "../fashion-eu");
        ReleaseOutcome policy = await harness.ReleaseAsync(harness.Token(c => c["x-ms-sgx-svn"] = 1));

        Assert.Equal(ReasonCode.KeyNotFound, unknown.Reason);
        Assert.Equal(ReasonCode.KeyNotFound, traversal.Reason);
        Assert.Equal(ReasonCode.SvnTooLow, policy.Reason);
        Assert.All(new[] { unknown, traversal, policy }, o => Assert.Equal(ReleaseOutcome.CoarseDenial, o.WireReason));
    }

    [Fact]
    public async Task Denial_lists_every_failed_condition_and_audits_it()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c =>
        {
            c["x-ms-sgx-mrenclave"] = new string('f', 64);
            c["x-ms-sgx-is-debuggable"] = true;
            c["x-ms-sgx-svn"] = 1;
            c["x-enclave-region"] = "us-east";
        }));

        Assert.Equal(
            [ReasonCode.RegionNotAllowed, ReasonCode.MeasurementNotAllowed, ReasonCode.DebugNotAllowed, ReasonCode.SvnTooLow],
            outcome.PolicyFailures.Select(f => f.Reason).ToArray());
        AuditEntry entry = harness.Broker.Audit.GetEntry(outcome.AuditSequence!.Value)!;
        JsonObject body = JsonNode.Parse(entry.Body)!.AsObject();
        Assert.Equal(nameof(AuditEntryKind.ReleaseDenied), entry.Kind);
        Assert.Equal("RegionNotAllowed", body["reason"]!.GetValue<string>());
        Assert.Equal("us-east", body["region"]!.GetValue<string>());
        Assert.Contains("SvnTooLow", body["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Real_azure_attestation_tokens_are_refused_rs256_and_alg_none()
    {
        using var harness = new BrokerHarness();
        const string maaIssuer = "https://sharedwus.wus.attest.azure.net";
        using var broker = new KeyBrokerService(
            new KeyBrokerOptions
            {
                DataDirectory = harness.Directory.Combine("maa"),
                TrustedIssuers = [maaIssuer],
                Audience = null,
                SimulatedMode = true,
                Time = new ManualTimeProvider(new DateTimeOffset(2022, 5, 31, 22, 48, 0, TimeSpan.Zero)),
                MaxTokenLifetime = TimeSpan.FromHours(9),
            },
            new Tokens.StaticVerifierKeySource(maaIssuer, MaaSigningKeys()));

        ReleaseOutcome rs256 = await broker.ReleaseAsync("any", TestData.ReadText("maa-jwt", "sharedwus-sgx-enclave-2022-05-31", "token.jwt"));
        ReleaseOutcome none = await broker.ReleaseAsync("any", TestData.ReadText("maa-jwt", "sharedwus-draft-policy-unsigned-2022-05-31", "token.jwt"));
        ReleaseOutcome rs256WithoutJku = await broker.ReleaseAsync("any", WithoutJku(TestData.ReadText("maa-jwt", "sharedwus-sgx-enclave-2022-05-31", "token.jwt")));

        Assert.Equal(ReasonCode.KeyInTokenHeader, rs256.Reason);
        Assert.Contains("jku", rs256.Detail, StringComparison.Ordinal);
        Assert.Equal(ReasonCode.AlgorithmNotAllowed, rs256WithoutJku.Reason);
        Assert.Contains("RS256", rs256WithoutJku.Detail, StringComparison.Ordinal);
        Assert.Equal(ReasonCode.KeyInTokenHeader, none.Reason);
        Assert.Equal("KeyInTokenHeader", none.WireReason);
        Assert.Contains("a9d25f4489950bd8f154f6ee448d37ef29475d14eaecc80f68c174dd3a7c89e2",
            broker.Audit.GetEntry(rs256.AuditSequence!.Value)!.Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("HS256")]
    public async Task Unsigned_or_hmac_tokens_with_our_issuer_are_refused(string alg)
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        string header = Base64Url.Encode(Encoding.UTF8.GetBytes($$"""{"alg":"{{alg}}","kid":"{{harness.VerifierJwk.Kid}}","typ":"JWT"}"""));
        string payload = Base64Url.Encode(Encoding.UTF8.GetBytes(harness.Claims(harness.Broker.IssueNonce().Value).ToJsonString()));
        string signature = alg == "none" ? string.Empty : Base64Url.Encode(HMACSHA256.HashData(Encoding.UTF8.GetBytes(harness.VerifierJwk.ToJson()), Encoding.ASCII.GetBytes(header + "." + payload)));

        ReleaseOutcome outcome = await harness.ReleaseAsync(header + "." + payload + "." + signature);

        Assert.Equal(ReasonCode.AlgorithmNotAllowed, outcome.Reason);
    }

    [Fact]
    public async Task Token_with_an_embedded_jwk_header_is_refused()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Jwk attackerJwk = BrokerHarness.PublicSigningJwk(attacker);
        string header = Base64Url.Encode(Encoding.UTF8.GetBytes(new JsonObject
        {
            ["alg"] = "ES256",
            ["kid"] = harness.VerifierJwk.Kid,
            ["jwk"] = attackerJwk.ToJsonObject(),
        }.ToJsonString()));
        string payload = Base64Url.Encode(Encoding.UTF8.GetBytes(harness.Claims(harness.Broker.IssueNonce().Value).ToJsonString()));
        byte[] signature = attacker.SignData(Encoding.ASCII.GetBytes(header + "." + payload), HashAlgorithmName.SHA256);

        ReleaseOutcome outcome = await harness.ReleaseAsync(header + "." + payload + "." + Base64Url.Encode(signature));

        Assert.Equal(ReasonCode.KeyInTokenHeader, outcome.Reason);
        Assert.Contains("\"jwk\"", outcome.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Key_of_one_trusted_verifier_cannot_sign_for_another()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        JsonObject claims = harness.Claims(harness.Broker.IssueNonce().Value);
        claims["iss"] = BrokerHarness.OtherIssuer;

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.IssueToken(claims));

        Assert.Equal(ReasonCode.UnknownSigningKey, outcome.Reason);
        Assert.Contains("UnknownKey", outcome.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_of_another_trusted_verifier_is_refused_when_the_policy_names_only_the_first()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        JsonObject claims = harness.Claims(harness.Broker.IssueNonce().Value);
        claims["iss"] = BrokerHarness.OtherIssuer;

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.IssueToken(claims, harness.OtherVerifierKey));

        Assert.Equal(ReasonCode.WrongIssuer, outcome.Reason);
        Assert.Equal(ReleaseOutcome.CoarseDenial, outcome.WireReason);
    }

    [Fact]
    public async Task Simulated_token_is_refused_outside_simulated_mode()
    {
        using var harness = new BrokerHarness(simulatedMode: false);
        harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c =>
        {
            c["x-ms-attestation-type"] = "simulated";
            c["x-enclave-simulated"] = true;
        }));
        ReleaseOutcome hardware = await harness.ReleaseAsync(harness.Token());

        Assert.Equal(ReasonCode.AttestationTypeNotAllowed, outcome.Reason);
        Assert.True(hardware.IsGranted, hardware.Detail);
    }

    [Fact]
    public async Task Simulated_token_is_accepted_in_simulated_mode_when_the_policy_allows_it()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c =>
        {
            c["x-ms-attestation-type"] = "simulated";
            c["x-enclave-simulated"] = true;
        }));

        Assert.True(outcome.IsGranted, outcome.Detail);
    }

    private static string WithoutJku(string token)
    {
        string[] parts = token.Split('.');
        JsonObject header = JsonNode.Parse(Base64Url.Decode(parts[0]))!.AsObject();
        header.Remove("jku");
        return Base64Url.Encode(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + parts[1] + "." + parts[2];
    }

    /// <summary>The recorded MAA key set carries only x5c certificates; the keys are taken from them.</summary>
    private static JwkSet MaaSigningKeys()
    {
        JsonObject jwks = JsonNode.Parse(TestData.ReadText("maa-jwt", "sharedwus-sgx-enclave-2022-05-31", "jwks.json"))!.AsObject();
        var keys = new List<Jwk>();
        foreach (JsonNode? key in jwks["keys"]!.AsArray())
        {
            byte[] der = Convert.FromBase64String(key!["x5c"]![0]!.GetValue<string>());
            using var certificate = X509CertificateLoader.LoadCertificate(der);
            using RSA rsa = certificate.GetRSAPublicKey()!;
            keys.Add(Jwk.FromRsaPublic(rsa.ExportParameters(false), key["kid"]!.GetValue<string>()));
        }

        return new JwkSet(keys);
    }

    internal static void Execute(string databasePath, string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        foreach ((string name, object value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        command.ExecuteNonQuery();
    }
}
