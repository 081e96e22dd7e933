using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

/// <summary>Owner-signed registration and policy changes: pinning, freshness, replay and validation.</summary>
public sealed class OwnerRequestTests
{
    [Fact]
    public async Task A_second_owner_registering_the_same_short_name_gets_a_separate_key_and_cannot_touch_the_first()
    {
        using var harness = new BrokerHarness();
        byte[] original = harness.RegisterDefaultKey();
        using var intruder = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] intruderKey = BrokerHarness.NewDataKey();

        OwnerRequestOutcome second = harness.Register(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), intruderKey, intruder);
        OwnerRequestOutcome update = harness.UpdatePolicy(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), intruder);
        OwnerRequestOutcome disable = harness.SetEnabled(BrokerHarness.KeyName, false, intruder);

        Assert.True(second.Succeeded, second.Detail);
        Assert.Equal(harness.IdOf(BrokerHarness.KeyName, intruder), second.KeyName);
        Assert.NotEqual(harness.DefaultKeyId, second.KeyName);
        Assert.Equal(1, second.KeyVersion);
        Assert.True(update.Succeeded, update.Detail);
        Assert.True(disable.Succeeded, disable.Detail);

        // The intruder changed only its own key; the first owner's key is as it was registered.
        ReleaseOutcome release = await harness.ReleaseAsync(harness.Token());
        Assert.True(release.IsGranted, release.Detail);
        Assert.Equal(1, release.KeyVersion);
        Assert.Equal(original, Jwe.Decrypt(release.WrappedKey!, harness.EnclaveEncryptionKey));
        Assert.Equal(ReasonCode.KeyDisabled, (await harness.ReleaseAsync(harness.Token(), second.KeyName)).Reason);
        Assert.Equal(2, harness.Register(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey()).KeyVersion);
    }

    [Theory]
    [InlineData("fashion-eu")]
    [InlineData("/fashion-eu")]
    [InlineData("../fashion-eu")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/../fashion-eu")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/fashion-eu/x")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB/fashion-eu")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/fashion-eu")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA./fashion-eu")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\\fashion-eu")]
    public void Key_ids_that_compose_could_not_produce_are_refused(string id)
    {
        Assert.False(KeyId.TryParse(id, out _, out _));
    }

    [Fact]
    public void Key_ids_round_trip_through_compose_and_parse()
    {
        using var harness = new BrokerHarness();
        string thumbprint = Jwk.FromEcPublic(harness.OwnerKey.ExportParameters(false)).ComputeThumbprint();

        string id = KeyId.Compose(thumbprint, "eu-west-data");

        Assert.Equal($"{thumbprint}/eu-west-data", id);
        Assert.True(KeyId.TryParse(id, out string owner, out string name));
        Assert.Equal((thumbprint, "eu-west-data"), (owner, name));
        Assert.True(id.Length <= KeyId.MaxLength);
        Assert.Throws<ArgumentException>(() => KeyId.Compose(thumbprint, "../x"));
        Assert.Throws<ArgumentException>(() => KeyId.Compose("short", "x"));
    }

    [Fact]
    public void Owner_operations_are_audited_with_receipts()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        OwnerRequestOutcome update = harness.UpdatePolicy(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy());
        OwnerRequestOutcome disable = harness.SetEnabled(BrokerHarness.KeyName, false);

        AuditEntry[] entries = harness.Broker.Audit.ReadEntries().ToArray();
        Assert.Equal(
            [nameof(AuditEntryKind.KeyRegistered), nameof(AuditEntryKind.PolicyUpdated), nameof(AuditEntryKind.KeyStateChanged)],
            entries.Select(e => e.Kind).ToArray());
        Assert.Equal(update.ReceiptId, entries[1].Id);
        Assert.Equal(disable.ReceiptId, entries[2].Id);
        string thumbprint = Jwk.FromEcPublic(harness.OwnerKey.ExportParameters(false)).ComputeThumbprint();
        Assert.Equal(thumbprint, JsonNode.Parse(entries[0].Body)!["owner"]!.GetValue<string>());
        Assert.DoesNotContain("\"key\":\"ey", entries[0].Body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("..")]
    [InlineData(".hidden")]
    [InlineData("a.b")]
    [InlineData("a/b")]
    [InlineData("a\\b")]
    [InlineData("Fashion")]
    [InlineData("-leading")]
    [InlineData("")]
    [InlineData("with space")]
    [InlineData("a%2fb")]
    [InlineData("caf\u00e9")]
    public void Key_names_that_could_traverse_or_alias_are_rejected(string name)
    {
        using var harness = new BrokerHarness();

        OwnerRequestOutcome outcome = harness.Register(name, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());

        Assert.Equal(OwnerRequestError.InvalidKeyName, outcome.Error);
        Assert.False(KeyName.IsValid(name));
    }

    [Fact]
    public void Key_name_limits()
    {
        Assert.True(KeyName.IsValid("a"));
        Assert.True(KeyName.IsValid("0-a-" + new string('z', 59)));
        Assert.False(KeyName.IsValid(new string('a', 64)));
        Assert.True(KeyName.IsValid(new string('a', 63)));
    }

    [Fact]
    public void Replayed_request_is_refused()
    {
        using var harness = new BrokerHarness();
        string owner = BrokerHarness.PublicJwkJson(harness.OwnerKey);
        string signed = BrokerHarness.Sign(harness.OwnerKey, harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey()));

        Assert.True(harness.Broker.RegisterKey(owner, signed).Succeeded);
        Assert.Equal(OwnerRequestError.Replayed, harness.Broker.RegisterKey(owner, signed).Error);
    }

    [Theory]
    [InlineData(-6)]
    [InlineData(6)]
    public void Request_signed_more_than_five_minutes_away_is_stale(int minutes)
    {
        using var harness = new BrokerHarness();
        JsonObject payload = harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());
        payload["iat"] = harness.Time.GetUtcNow().AddMinutes(minutes).ToUnixTimeSeconds();

        OwnerRequestOutcome outcome = harness.Broker.RegisterKey(BrokerHarness.PublicJwkJson(harness.OwnerKey), BrokerHarness.Sign(harness.OwnerKey, payload));

        Assert.Equal(OwnerRequestError.Stale, outcome.Error);
    }

    [Fact]
    public void Request_for_another_broker_is_refused()
    {
        using var harness = new BrokerHarness();
        JsonObject payload = harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());
        payload["aud"] = "another-broker";

        OwnerRequestOutcome outcome = harness.Broker.RegisterKey(BrokerHarness.PublicJwkJson(harness.OwnerKey), BrokerHarness.Sign(harness.OwnerKey, payload));

        Assert.Equal(OwnerRequestError.WrongAudience, outcome.Error);
    }

    [Fact]
    public void Signature_by_a_key_other_than_the_presented_owner_key_is_refused()
    {
        using var harness = new BrokerHarness();
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        JsonObject payload = harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());
        string kid = Jwk.FromEcPublic(harness.OwnerKey.ExportParameters(false)).ComputeThumbprint();
        string forged = Jws.Sign(System.Text.Encoding.UTF8.GetBytes(payload.ToJsonString()), other, kid, "enclave-owner-request+jws");

        OwnerRequestOutcome wrongSigner = harness.Broker.RegisterKey(BrokerHarness.PublicJwkJson(harness.OwnerKey), forged);
        OwnerRequestOutcome wrongKid = harness.Broker.RegisterKey(BrokerHarness.PublicJwkJson(harness.OwnerKey), BrokerHarness.Sign(other, payload));

        Assert.Equal(OwnerRequestError.BadSignature, wrongSigner.Error);
        Assert.Equal(OwnerRequestError.BadSignature, wrongKid.Error);
    }

    [Fact]
    public void Owner_key_must_be_a_p256_public_key()
    {
        using var harness = new BrokerHarness();
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        string signed = BrokerHarness.Sign(harness.OwnerKey, harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey()));
        JsonObject withPrivate = JsonNode.Parse(BrokerHarness.PublicJwkJson(harness.OwnerKey))!.AsObject();
        withPrivate["d"] = Base64Url.Encode(harness.OwnerKey.ExportParameters(true).D);

        Assert.Equal(OwnerRequestError.UnsupportedOwnerKey, harness.Broker.RegisterKey(BrokerHarness.PublicJwkJson(p384), signed).Error);
        Assert.Equal(OwnerRequestError.UnsupportedOwnerKey, harness.Broker.RegisterKey(withPrivate.ToJsonString(), signed).Error);
        Assert.Equal(OwnerRequestError.UnsupportedOwnerKey, harness.Broker.RegisterKey("not json", signed).Error);
    }

    [Fact]
    public void Wrong_typ_unknown_member_and_operation_mismatch_are_malformed()
    {
        using var harness = new BrokerHarness();
        string owner = BrokerHarness.PublicJwkJson(harness.OwnerKey);
        JsonObject payload = harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());
        JsonObject extra = harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());
        extra["owner"] = "someone";
        JsonObject shortId = harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());
        shortId["jti"] = "1";

        Assert.Equal(OwnerRequestError.Malformed, harness.Broker.RegisterKey(owner, BrokerHarness.Sign(harness.OwnerKey, payload, "JWT")).Error);
        Assert.Equal(OwnerRequestError.Malformed, harness.Broker.RegisterKey(owner, BrokerHarness.Sign(harness.OwnerKey, extra)).Error);
        Assert.Equal(OwnerRequestError.Malformed, harness.Broker.RegisterKey(owner, BrokerHarness.Sign(harness.OwnerKey, shortId)).Error);
        Assert.Equal(OwnerRequestError.Malformed, harness.Broker.UpdatePolicy(owner, BrokerHarness.Sign(harness.OwnerKey, payload)).Error);
        Assert.Equal(OwnerRequestError.Malformed, harness.Broker.RegisterKey(owner, "a.b.c").Error);
        Assert.True(harness.Broker.HandleOwnerRequest(owner, BrokerHarness.Sign(harness.OwnerKey, payload)).Succeeded);
    }

    [Fact]
    public void Invalid_policy_is_refused_with_its_json_path()
    {
        using var harness = new BrokerHarness();
        string bad = """{"version":"1.0.0","anyOf":[{"authority":"https://verifier.test","allOf":[{"claim":"a","like":"b"}]}]}""";

        OwnerRequestOutcome outcome = harness.Register(BrokerHarness.KeyName, bad, BrokerHarness.NewDataKey());

        Assert.Equal(OwnerRequestError.InvalidPolicy, outcome.Error);
        Assert.Contains("$.anyOf[0].allOf[0].like", outcome.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Policy_naming_no_trusted_verifier_is_refused()
    {
        using var harness = new BrokerHarness();
        string foreign = File.ReadAllText(TestData.PathOf("skr-policy", "azure-docs-sgx-mrsigner", "policy.json"));

        OwnerRequestOutcome outcome = harness.Register(BrokerHarness.KeyName, foreign, BrokerHarness.NewDataKey());

        Assert.Equal(OwnerRequestError.InvalidPolicy, outcome.Error);
    }

    [Fact]
    public void Data_key_must_be_32_bytes_encrypted_to_the_import_key()
    {
        using var harness = new BrokerHarness();
        using var stranger = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        JsonObject wrongRecipient = harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());
        wrongRecipient["key"] = Jwe.Encrypt(BrokerHarness.NewDataKey(), Jwk.FromEcPublic(stranger.ExportParameters(false)));

        OwnerRequestOutcome shortKey = harness.Register(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), RandomNumberGenerator.GetBytes(16));
        OwnerRequestOutcome misaddressed = harness.Broker.RegisterKey(BrokerHarness.PublicJwkJson(harness.OwnerKey), BrokerHarness.Sign(harness.OwnerKey, wrongRecipient));

        Assert.Equal(OwnerRequestError.InvalidDataKey, shortKey.Error);
        Assert.Equal(OwnerRequestError.InvalidDataKey, misaddressed.Error);
    }

    [Fact]
    public void Update_of_an_unknown_key_is_not_owner()
    {
        using var harness = new BrokerHarness();

        Assert.Equal(OwnerRequestError.NotOwner, harness.UpdatePolicy("nothing-here", BrokerHarness.DefaultPolicy()).Error);
    }

    [Fact]
    public async Task Policy_update_takes_effect_and_re_enabling_restores_release()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        string usOnly = BrokerHarness.DefaultPolicy().Replace("\"eu-west\"", "\"us-east\"", StringComparison.Ordinal);

        Assert.True(harness.UpdatePolicy(BrokerHarness.KeyName, usOnly).Succeeded);
        Assert.Equal(ReasonCode.RegionNotAllowed, (await harness.ReleaseAsync(harness.Token())).Reason);
        Assert.True(harness.UpdatePolicy(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy()).Succeeded);
        Assert.True(harness.SetEnabled(BrokerHarness.KeyName, false).Succeeded);
        Assert.Equal(ReasonCode.KeyDisabled, (await harness.ReleaseAsync(harness.Token())).Reason);
        Assert.True(harness.SetEnabled(BrokerHarness.KeyName, true).Succeeded);
        Assert.True((await harness.ReleaseAsync(harness.Token())).IsGranted);
    }

    [Fact]
    public void Import_key_persists_across_restarts()
    {
        using var directory = new TempDirectory();
        var options = new KeyBrokerOptions { DataDirectory = directory.Path, TrustedIssuers = [BrokerHarness.Issuer], SimulatedMode = true };
        var keys = new Tokens.StaticVerifierKeySource(BrokerHarness.Issuer, new JwkSet([]));
        string first;
        using (var broker = new KeyBrokerService(options, keys))
        {
            first = broker.ImportKey.ToJson();
            Assert.Equal("enc", broker.ImportKey.Use);
        }

        using var again = new KeyBrokerService(options, keys);
        Assert.Equal(first, again.ImportKey.ToJson());
        if (!OperatingSystem.IsWindows())
        {
            foreach (string file in new[] { BrokerImportKey.DefaultFileName, AuditSigningKey.DefaultFileName, FileMasterKey.DefaultFileName })
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(directory.Combine(file)));
            }
        }
    }

    [Fact]
    public void Broker_outside_simulated_mode_requires_a_master_key()
    {
        using var directory = new TempDirectory();
        var options = new KeyBrokerOptions { DataDirectory = directory.Path, TrustedIssuers = [BrokerHarness.Issuer], SimulatedMode = false };

        Assert.Throws<InvalidOperationException>(() => new KeyBrokerService(options, new Tokens.StaticVerifierKeySource(BrokerHarness.Issuer, new JwkSet([]))));
    }
}
