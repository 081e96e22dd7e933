using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

/// <summary>Owners register, rotate, disable, re-enable, delete keys and update policies; nobody else can,
/// a stranger cannot tell a missing key from someone else's, names cannot traverse, and every change is audited.</summary>
public sealed class KeyLifecycleTests
{
    [Fact]
    public async Task Rotation_adds_a_version_that_releases_the_new_key_under_the_kept_policy()
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();
        byte[] newKey = BrokerHarness.NewDataKey();

        OwnerRequestOutcome rotated = Rotate(h, newKey);

        Assert.True(rotated.Succeeded, rotated.Detail);
        Assert.Equal(2, rotated.KeyVersion);
        ReleaseOutcome release = await h.ReleaseAsync(h.Token());
        Assert.True(release.IsGranted, release.Detail);
        Assert.Equal(2, release.KeyVersion);
        Assert.Equal(newKey, Jwe.Decrypt(release.WrappedKey!, h.EnclaveEncryptionKey));
        using var store = new SqliteKeyBrokerStore(SqliteKeyBrokerStore.ConnectionStringFor(h.Directory.Path));
        Assert.Equal(
            JsonNode.Parse(BrokerHarness.DefaultPolicy())!.ToJsonString(),
            JsonNode.Parse(store.GetLatestKey(h.DefaultKeyId)!.PolicyJson)!.ToJsonString());
        Assert.Single(h.Broker.Audit.ReadEntries(), e => e.Kind == nameof(AuditEntryKind.KeyVersionAdded));
    }

    [Fact]
    public async Task Rotation_can_bring_a_new_policy()
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();
        string usOnly = BrokerHarness.DefaultPolicy().Replace(BrokerHarness.Region, "us-east", StringComparison.Ordinal);

        Assert.True(Rotate(h, BrokerHarness.NewDataKey(), usOnly).Succeeded);

        Assert.Equal(ReasonCode.RegionNotAllowed, (await h.ReleaseAsync(h.Token())).Reason);
    }

    [Fact]
    public async Task Disable_and_reenable()
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();

        Assert.True(h.SetEnabled(BrokerHarness.KeyName, false).Succeeded);
        ReleaseOutcome disabled = await h.ReleaseAsync(h.Token());
        Assert.True(h.SetEnabled(BrokerHarness.KeyName, true).Succeeded);
        ReleaseOutcome enabled = await h.ReleaseAsync(h.Token());

        Assert.Equal(ReasonCode.KeyDisabled, disabled.Reason);
        Assert.Equal(ReleaseOutcome.CoarseDenial, disabled.WireReason);
        Assert.True(enabled.IsGranted, enabled.Detail);
    }

    [Fact]
    public async Task Deleted_key_is_never_released_and_its_wrapped_key_is_destroyed()
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();

        OwnerRequestOutcome deleted = Owner(h, "delete", h.OwnerKey);

        Assert.True(deleted.Succeeded, deleted.Detail);
        ReleaseOutcome release = await h.ReleaseAsync(h.Token());
        Assert.Equal(ReasonCode.KeyNotFound, release.Reason);
        Assert.Equal(ReleaseOutcome.CoarseDenial, release.WireReason);
        using var store = new SqliteKeyBrokerStore(SqliteKeyBrokerStore.ConnectionStringFor(h.Directory.Path));
        Assert.True(KeyStore.IsDeleted(store.GetLatestKey(h.DefaultKeyId)!));
        Assert.Equal(0L, Scalar(h.DatabasePath, "SELECT length(wrapped_key) FROM keys WHERE name LIKE '%/fashion-eu' AND version = 1"));
        AuditEntry entry = h.Broker.Audit.ReadEntries().Single(e => e.Id == deleted.ReceiptId);
        Assert.Equal(nameof(AuditEntryKind.KeyDeleted), entry.Kind);
    }

    [Fact]
    public void Deleted_key_cannot_be_managed_but_the_owner_can_register_the_name_again()
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();
        Assert.True(Owner(h, "delete", h.OwnerKey).Succeeded);

        OwnerRequestOutcome enable = h.SetEnabled(BrokerHarness.KeyName, true);
        OwnerRequestOutcome again = h.Register(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());

        Assert.Equal(OwnerRequestError.NotOwner, enable.Error);
        Assert.True(again.Succeeded, again.Detail);
        Assert.Equal(3, again.KeyVersion);
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("setEnabled")]
    [InlineData("updatePolicy")]
    [InlineData("rotate")]
    public async Task A_stranger_cannot_manage_a_key_nor_tell_it_from_a_missing_one(string op)
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        OwnerRequestOutcome existing = Owner(h, op, stranger);
        OwnerRequestOutcome missing = Owner(h, op, stranger, "no-such-key");

        Assert.Equal(OwnerRequestError.NotOwner, existing.Error);
        Assert.Equal(existing.Error, missing.Error);
        Assert.Equal(existing.Detail, missing.Detail);
        Assert.True((await h.ReleaseAsync(h.Token())).IsGranted, "the stranger changed the key");
    }

    [Theory]
    [InlineData("../fashion-eu")]
    [InlineData("fashion-eu/..")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("fashion-eu/../other")]
    [InlineData("fashion%2Feu")]
    [InlineData("Fashion-eu")]
    [InlineData("fashion_eu")]
    [InlineData("-fashion")]
    [InlineData("fashion\0eu")]
    [InlineData("fashion-eu ")]
    [InlineData("ｆashion")]
    [InlineData("")]
    public async Task Key_names_that_could_traverse_or_alias_are_refused(string name)
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();

        OwnerRequestOutcome register = h.Register(name, BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey());
        ReleaseOutcome release = await h.ReleaseAsync(h.Token(), name);

        Assert.Equal(OwnerRequestError.InvalidKeyName, register.Error);
        Assert.Equal(ReasonCode.KeyNotFound, release.Reason);
        Assert.Equal(ReleaseOutcome.CoarseDenial, release.WireReason);
    }

    [Fact]
    public void Name_of_64_characters_is_refused_and_63_accepted()
    {
        using var h = new BrokerHarness();

        Assert.Equal(OwnerRequestError.InvalidKeyName, h.Register(new string('a', 64), BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey()).Error);
        Assert.True(h.Register(new string('a', 63), BrokerHarness.DefaultPolicy(), BrokerHarness.NewDataKey()).Succeeded);
    }

    [Fact]
    public void Every_change_is_audited_in_order()
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();
        Assert.True(Rotate(h, BrokerHarness.NewDataKey()).Succeeded);
        Assert.True(h.UpdatePolicy(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy()).Succeeded);
        Assert.True(h.SetEnabled(BrokerHarness.KeyName, false).Succeeded);
        Assert.True(h.SetEnabled(BrokerHarness.KeyName, true).Succeeded);
        Assert.True(Owner(h, "delete", h.OwnerKey).Succeeded);

        string[] kinds = h.Broker.Audit.ReadEntries().Select(e => e.Kind).ToArray();
        string[] operations = h.Broker.Audit.ReadEntries().Select(e => JsonNode.Parse(e.Body)!["operation"]!.GetValue<string>()).ToArray();

        Assert.Equal(
            [nameof(AuditEntryKind.KeyRegistered), nameof(AuditEntryKind.KeyVersionAdded), nameof(AuditEntryKind.PolicyUpdated),
             nameof(AuditEntryKind.KeyStateChanged), nameof(AuditEntryKind.KeyStateChanged), nameof(AuditEntryKind.KeyDeleted)],
            kinds);
        Assert.Equal(["Register", "Rotate", "UpdatePolicy", "SetEnabled", "SetEnabled", "Delete"], operations);
        Assert.True(h.Broker.VerifyAudit().IsValid);
    }

    private static long Scalar(string databasePath, string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(
            new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        connection.Open();
        using Microsoft.Data.Sqlite.SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static OwnerRequestOutcome Rotate(BrokerHarness h, byte[] dataKey, string? policy = null)
    {
        JsonObject payload = h.OwnerPayload("rotate", BrokerHarness.KeyName);
        payload["key"] = Jwe.Encrypt(dataKey, h.Broker.ImportKey);
        if (policy is not null)
        {
            payload["policy"] = JsonNode.Parse(policy);
        }

        return h.Broker.RotateKey(BrokerHarness.PublicJwkJson(h.OwnerKey), BrokerHarness.Sign(h.OwnerKey, payload));
    }

    private static OwnerRequestOutcome Owner(BrokerHarness h, string op, ECDsa signer, string name = BrokerHarness.KeyName)
    {
        JsonObject payload = h.OwnerPayload(op, name);
        switch (op)
        {
            case "setEnabled":
                payload["enabled"] = false;
                break;
            case "updatePolicy":
                payload["policy"] = JsonNode.Parse(BrokerHarness.DefaultPolicy());
                break;
            case "rotate":
                payload["key"] = Jwe.Encrypt(BrokerHarness.NewDataKey(), h.Broker.ImportKey);
                break;
        }

        return h.Broker.HandleOwnerRequest(BrokerHarness.PublicJwkJson(signer), BrokerHarness.Sign(signer, payload));
    }
}
