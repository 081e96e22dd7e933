using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Testing;
using Microsoft.Data.Sqlite;

namespace Enclave.KeyBroker.Tests;

/// <summary>Release behaviour that depends on the store (audit records, nonces, concurrency, tampered
/// rows), run against every store.</summary>
public abstract class ReleaseStoreTests : IDisposable
{
    private readonly StoreTarget _target;

    protected ReleaseStoreTests(KeyBrokerStoreKind kind)
    {
        _target = StoreTarget.Create(kind);
    }

    public void Dispose()
    {
        _target.Dispose();
        GC.SuppressFinalize(this);
    }

    [EnvironmentFact]
    public async Task Grant_returns_a_jwe_that_decrypts_to_the_registered_key_and_is_audited_first()
    {
        using var harness = NewHarness();
        byte[] dataKey = harness.RegisterDefaultKey();
        JsonObject claims = harness.Claims(harness.Broker.IssueNonce().Value);

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.IssueToken(claims));

        Assert.True(outcome.IsGranted, outcome.Detail);
        Assert.Equal("Granted", outcome.WireReason);
        Assert.Equal(1, outcome.KeyVersion);
        Assert.Equal(dataKey, Jwe.Decrypt(outcome.WrappedKey!, harness.EnclaveEncryptionKey));

        using IKeyBrokerStore separate = _target.Open();
        AuditEntryRecord record = separate.GetAuditEntry(outcome.AuditSequence!.Value)!;
        Assert.Equal(outcome.ReceiptId, Convert.ToHexStringLower(record.EntryHash));
        Assert.Equal(nameof(AuditEntryKind.ReleaseGranted), record.Kind);
        JsonObject body = JsonNode.Parse(record.Body)!.AsObject();
        Assert.Equal(harness.DefaultKeyId, body["key"]!.GetValue<string>());
        Assert.Equal(1, body["version"]!.GetValue<int>());
        Assert.Equal(claims["jti"]!.GetValue<string>(), body["jti"]!.GetValue<string>());
        Assert.Equal(BrokerHarness.Region, body["region"]!.GetValue<string>());
        Assert.Equal(BrokerHarness.Measurement, body["measurement"]!.GetValue<string>());
        Assert.Equal("Granted", body["reason"]!.GetValue<string>());
        Assert.Equal(harness.EncryptionJwk().ComputeThumbprint(), body["encryptionKey"]!.GetValue<string>());
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }


    [EnvironmentFact]
    public async Task No_key_is_returned_when_the_grant_cannot_be_audited()
    {
        var store = new FailingAuditStore(_target.Open());
        using var harness = new BrokerHarness(store: store);
        harness.RegisterDefaultKey();
        string token = harness.Token();
        store.FailGrants = true;

        await Assert.ThrowsAsync<SqliteException>(() => harness.ReleaseAsync(token));

        Assert.DoesNotContain(harness.Broker.Audit.ReadEntries(), e => e.Kind == nameof(AuditEntryKind.ReleaseGranted));
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }


    [EnvironmentFact]
    public async Task Concurrent_releases_keep_the_audit_chain_intact()
    {
        using var harness = NewHarness();
        byte[] dataKey = harness.RegisterDefaultKey();
        string[] tokens = Enumerable.Range(0, 12).Select(i => harness.Token(i % 3 == 0 ? c => c["x-ms-sgx-svn"] = 0 : null)).ToArray();

        ReleaseOutcome[] outcomes = await Task.WhenAll(tokens.Select(t => Task.Run(() => harness.ReleaseAsync(t))));

        Assert.Equal(8, outcomes.Count(o => o.IsGranted));
        Assert.All(outcomes.Where(o => o.IsGranted), o => Assert.Equal(dataKey, Jwe.Decrypt(o.WrappedKey!, harness.EnclaveEncryptionKey)));
        AuditVerificationResult verification = harness.Broker.VerifyAudit();
        Assert.True(verification.IsValid, verification.Detail);
        Assert.Equal(13, verification.VerifiedEntries);
        Assert.Equal(12, outcomes.Select(o => o.AuditSequence).Distinct().Count());
    }


    [EnvironmentFact]
    public async Task Nonce_reuse_is_denied()
    {
        using var harness = NewHarness();
        harness.RegisterDefaultKey();
        string token = harness.Token();

        Assert.True((await harness.ReleaseAsync(token)).IsGranted);
        ReleaseOutcome replay = await harness.ReleaseAsync(token);

        Assert.Equal(ReasonCode.NonceReplayed, replay.Reason);
        Assert.Equal(nameof(ReasonCode.NonceReplayed), replay.WireReason);
        Assert.Null(replay.WrappedKey);
    }


    [EnvironmentFact]
    public async Task Concurrent_uses_of_one_token_grant_exactly_once_and_audit_every_replay()
    {
        using var harness = NewHarness();
        harness.RegisterDefaultKey();
        string token = harness.Token();

        ReleaseOutcome[] outcomes = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() => harness.ReleaseAsync(token))));

        Assert.Single(outcomes, o => o.IsGranted);
        Assert.All(outcomes.Where(o => !o.IsGranted), o =>
        {
            Assert.Equal(ReasonCode.NonceReplayed, o.Reason);
            Assert.Null(o.WrappedKey);
        });
        Assert.Equal(12, outcomes.Select(o => o.AuditSequence).Distinct().Count());
        AuditVerificationResult verification = harness.Broker.VerifyAudit();
        Assert.True(verification.IsValid, verification.Detail);
    }

    [EnvironmentFact]
    public async Task Policy_row_edited_in_the_database_makes_the_key_unreleasable()
    {
        using var harness = NewHarness();
        harness.RegisterDefaultKey();
        string permissive = """{"version":"1.0.0","anyOf":[{"authority":"https://verifier.test","allOf":[{"claim":"iss","exists":true}]}]}""";
        _target.Execute("UPDATE keys SET policy_json = @p", ("@p", permissive));

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token(c => c["x-ms-sgx-mrenclave"] = new string('e', 64)));

        Assert.Equal(ReasonCode.KeyIntegrityFailure, outcome.Reason);
        Assert.Null(outcome.WrappedKey);
    }


    [EnvironmentFact]
    public async Task A_key_disabled_through_another_broker_is_not_released_from_what_this_broker_saw_before()
    {
        using BrokerHarness harness = await ChangedThroughAnotherBrokerAsync("setEnabled", (request, _) => request["enabled"] = false);

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token());

        Assert.False(outcome.IsGranted);
        Assert.Equal(ReasonCode.KeyDisabled, outcome.Reason);
        Assert.Null(outcome.WrappedKey);
        AuditEntry last = harness.Broker.Audit.ReadEntries().Last();
        Assert.Equal(nameof(AuditEntryKind.ReleaseDenied), last.Kind);
        Assert.Equal(nameof(ReasonCode.KeyDisabled), JsonNode.Parse(last.Body)!["reason"]!.GetValue<string>());
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }

    [EnvironmentFact]
    public async Task A_key_rotated_through_another_broker_is_released_at_its_new_version()
    {
        byte[] rotated = BrokerHarness.NewDataKey();
        using BrokerHarness harness = await ChangedThroughAnotherBrokerAsync("rotate", (request, other) => request["key"] = Jwe.Encrypt(rotated, other.ImportKey));

        ReleaseOutcome first = await harness.ReleaseAsync(harness.Token());
        ReleaseOutcome second = await harness.ReleaseAsync(harness.Token());

        Assert.True(first.IsGranted, first.Detail);
        Assert.Equal(2, first.KeyVersion);
        Assert.Equal(rotated, Jwe.Decrypt(first.WrappedKey!, harness.EnclaveEncryptionKey));
        Assert.Equal(2, second.KeyVersion);
        Assert.True(harness.Broker.VerifyAudit().IsValid);
    }

    [EnvironmentFact]
    public async Task A_key_deleted_through_another_broker_is_denied_as_deleted()
    {
        using BrokerHarness harness = await ChangedThroughAnotherBrokerAsync("delete", (_, _) => { });

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token());

        Assert.Equal(ReasonCode.KeyNotFound, outcome.Reason);
        Assert.Contains("deleted", outcome.Detail, StringComparison.Ordinal);
    }

    /// <summary>A broker that registered the default key and released it once (so it has seen the key), after a
    /// second broker on the same store carried out the owner request <paramref name="op"/> on that key.</summary>
    private async Task<BrokerHarness> ChangedThroughAnotherBrokerAsync(string op, Action<JsonObject, KeyBrokerService> complete)
    {
        BrokerHarness harness = NewHarness();
        harness.RegisterDefaultKey();
        Assert.Equal(1, (await harness.ReleaseAsync(harness.Token())).KeyVersion);
        using KeyBrokerService other = SecondBroker(harness);
        JsonObject request = harness.OwnerPayload(op, BrokerHarness.KeyName);
        complete(request, other);
        OwnerRequestOutcome changed = other.HandleOwnerRequest(BrokerHarness.PublicJwkJson(harness.OwnerKey), BrokerHarness.Sign(harness.OwnerKey, request));
        Assert.True(changed.Succeeded, changed.Detail);
        return harness;
    }

    /// <summary>A second broker on the same database and data directory (its secrets), as a second replica would run.</summary>
    private KeyBrokerService SecondBroker(BrokerHarness harness) => new(
        new KeyBrokerOptions
        {
            DataDirectory = harness.Directory.Path,
            TrustedIssuers = [BrokerHarness.Issuer],
            SimulatedMode = true,
            Time = harness.Time,
        },
        harness.VerifierKeys,
        store: _target.Open());

    private BrokerHarness NewHarness() => new(store: _target.Open());

    /// <summary>A store whose grant entries fail to insert, as a full disk would.</summary>
    private sealed class FailingAuditStore : IKeyBrokerStore
    {
        private readonly IKeyBrokerStore _inner;

        public FailingAuditStore(IKeyBrokerStore inner)
        {
            _inner = inner;
        }

        public bool FailGrants { get; set; }

        public void Initialize() => _inner.Initialize();

        public IKeyBrokerTransaction BeginWrite() => new Transaction(_inner.BeginWrite(), this);

        public KeyVersionRecord? GetLatestKey(string name) => _inner.GetLatestKey(name);

        public IEnumerable<AuditEntryRecord> ReadAuditEntries(long fromSequence = 1) => _inner.ReadAuditEntries(fromSequence);

        public AuditEntryRecord? GetAuditEntry(long sequence) => _inner.GetAuditEntry(sequence);

        public AuditHeadRecord? GetAuditHead() => _inner.GetAuditHead();

        public void Dispose() => _inner.Dispose();

        private sealed class Transaction(IKeyBrokerTransaction inner, FailingAuditStore owner) : IKeyBrokerTransaction
        {
            public NonceConsumption ConsumeNonce(byte[] nonceHash, DateTimeOffset expiresAt, DateTimeOffset now) =>
                inner.ConsumeNonce(nonceHash, expiresAt, now);

            public void PurgeExpired(DateTimeOffset now) => inner.PurgeExpired(now);

            public bool TryRecordOwnerRequest(string requestId, DateTimeOffset expiresAt) => inner.TryRecordOwnerRequest(requestId, expiresAt);

            public KeyVersionRecord? GetLatestKey(string name) => inner.GetLatestKey(name);

            public void InsertKeyVersion(KeyVersionRecord record) => inner.InsertKeyVersion(record);

            public void UpdateKeyVersion(KeyVersionRecord record) => inner.UpdateKeyVersion(record);

            public byte[]? GetPrivacyBudget(string name) => inner.GetPrivacyBudget(name);

            public void SetPrivacyBudget(string name, byte[] rdp) => inner.SetPrivacyBudget(name, rdp);

            public AuditEntryRecord? GetLastAuditEntry() => inner.GetLastAuditEntry();

            public IReadOnlyList<byte[]> ReadAuditLeafHashes(long upToSequence) => inner.ReadAuditLeafHashes(upToSequence);

            public AuditHeadRecord? GetAuditHead() => inner.GetAuditHead();

            public void InsertAuditEntry(AuditEntryRecord entry)
            {
                if (owner.FailGrants && entry.Kind == nameof(AuditEntryKind.ReleaseGranted))
                {
                    throw new SqliteException("disk I/O error", 10);
                }

                inner.InsertAuditEntry(entry);
            }

            public void SetAuditHead(AuditHeadRecord head) => inner.SetAuditHead(head);

            public void Commit() => inner.Commit();

            public void Dispose() => inner.Dispose();
        }
    }
}

public sealed class SqliteReleaseStoreTests() : ReleaseStoreTests(KeyBrokerStoreKind.Sqlite);

[RequiresEnvironment(StoreTarget.PostgresVariable)]
[Collection(StoreTarget.PostgresCollection)]
public sealed class PostgresReleaseStoreTests() : ReleaseStoreTests(KeyBrokerStoreKind.Postgres);
