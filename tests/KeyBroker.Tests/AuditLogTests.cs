using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Testing;

namespace Enclave.KeyBroker.Tests;

/// <summary>The Merkle audit log against a store: every edit, deletion, reordering and truncation of the
/// stored rows is found and the first bad entry named; proofs check offline with only the public key.
/// A store implementation runs these by deriving from this class (see <see cref="SqliteAuditLogTests"/>).</summary>
public abstract class AuditLogContractTests : IDisposable
{
    private const int Entries = 6;

    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 15, 10, 0, 0, TimeSpan.Zero));
    private readonly AuditSigningKey _key = AuditSigningKey.CreateEphemeral();
    private IKeyBrokerStore? _store;
    private AuditLog? _log;

    /// <summary>The store, holding the populated log.</summary>
    protected IKeyBrokerStore Store
    {
        get
        {
            _ = Log;
            return _store!;
        }
    }

    /// <summary>The log, populated with six entries on first use.</summary>
    protected AuditLog Log => _log ??= CreatePopulatedLog();

    /// <summary>Opens the test's store (the same database every time; called again to simulate a restart).</summary>
    protected abstract IKeyBrokerStore OpenStore();

    /// <summary>Runs raw SQL against the store's database, as an attacker with database access would;
    /// parameters are named <c>@name</c>.</summary>
    protected abstract void ExecuteSql(string sql, params (string Name, object Value)[] parameters);

    [EnvironmentFact]
    public void Intact_log_verifies_and_its_root_is_the_merkle_root_of_the_stored_leaves()
    {
        AuditVerificationResult result = Log.Verify();

        Assert.True(result.IsValid, result.Detail);
        Assert.Equal(Entries, result.VerifiedEntries);
        AuditHeadRecord head = Log.GetHead()!;
        Assert.Equal(Entries, head.Size);
        List<byte[]> leaves = Store.ReadAuditEntries().Select(e => e.EntryHash).ToList();
        Assert.Equal(MerkleTree.Root(leaves), head.HeadHash);
        Assert.Equal(head.HeadHash, result.RootHash);
        Assert.Equal(Enumerable.Range(1, Entries).Select(i => (long)i), Log.ReadEntries().Select(e => e.Sequence));
    }

    [EnvironmentFact]
    public void Entries_link_to_their_predecessor_and_carry_the_tree_head_before_them()
    {
        AuditEntry[] entries = Log.ReadEntries().ToArray();

        Assert.Equal(new string('0', 64), entries[0].PreviousId);
        Assert.DoesNotContain(AuditLog.TreeHeadMember, entries[0].Body, StringComparison.Ordinal);
        for (int i = 1; i < entries.Length; i++)
        {
            Assert.Equal(entries[i - 1].Id, entries[i].PreviousId);
            string jws = JsonNode.Parse(entries[i].Body)![AuditLog.TreeHeadMember]!.GetValue<string>();
            SignedTreeHead carried = SignedTreeHead.Verify(jws, _key.PublicJwk);
            Assert.Equal(i, carried.TreeSize);
        }
    }

    [EnvironmentFact]
    public void Edited_body_names_the_entry()
    {
        Execute("UPDATE audit_entries SET body = replace(body, 'SvnTooLow', 'Granted') WHERE seq = 3");

        AssertFault(AuditFault.EntryEdited, 3);
    }

    [EnvironmentFact]
    public void Edited_time_or_kind_names_the_entry()
    {
        Execute("UPDATE audit_entries SET time_ms = time_ms + 1 WHERE seq = 4");
        AssertFault(AuditFault.EntryEdited, 4);
        Execute("UPDATE audit_entries SET time_ms = time_ms - 1, kind = 'ReleaseGranted' WHERE seq = 3");
        AssertFault(AuditFault.EntryEdited, 3);
    }

    [EnvironmentFact]
    public void Deleted_entry_is_named()
    {
        Execute("DELETE FROM audit_entries WHERE seq = 3");

        AssertFault(AuditFault.EntryMissing, 3);
    }

    [EnvironmentFact]
    public void Deleted_first_entry_is_named()
    {
        Execute("DELETE FROM audit_entries WHERE seq = 1");

        AssertFault(AuditFault.EntryMissing, 1);
    }

    [EnvironmentFact]
    public void Deleted_and_renumbered_entries_break_the_chain()
    {
        Execute("DELETE FROM audit_entries WHERE seq = 3");
        Execute("UPDATE audit_entries SET seq = seq - 1 WHERE seq > 3");

        AssertFault(AuditFault.ChainBroken, 3);
    }

    [EnvironmentFact]
    public void Reordered_entries_are_named()
    {
        Execute("UPDATE audit_entries SET seq = 100 WHERE seq = 3");
        Execute("UPDATE audit_entries SET seq = 3 WHERE seq = 4");
        Execute("UPDATE audit_entries SET seq = 4 WHERE seq = 100");

        AssertFault(AuditFault.ChainBroken, 3);
    }

    [EnvironmentFact]
    public void Truncated_tail_is_detected_against_the_signed_head()
    {
        Execute("DELETE FROM audit_entries WHERE seq > 4");

        AssertFault(AuditFault.Truncated, 5);
    }

    [EnvironmentFact]
    public void Truncated_tail_with_a_forged_head_size_fails_the_head_signature()
    {
        Execute("DELETE FROM audit_entries WHERE seq > 4");
        Execute("UPDATE audit_head SET size = 4");

        AuditVerificationResult result = Log.Verify();
        Assert.Equal(AuditFault.HeadSignatureInvalid, result.Fault);
        Assert.Null(result.FirstBadSequence);
    }

    [EnvironmentFact]
    public void Rollback_to_an_older_genuine_tree_head_is_found_with_the_head_an_auditor_kept()
    {
        SignedTreeHead kept = Log.GetSignedTreeHead(Entries);
        SignedTreeHead older = Log.GetSignedTreeHead(4);
        Execute("DELETE FROM audit_entries WHERE seq > 4");
        Execute("UPDATE audit_head SET size = @s, head_hash = @h, time_ms = @t, signature = @j",
            ("@s", older.TreeSize), ("@h", older.RootHash), ("@t", older.Timestamp.ToUnixTimeMilliseconds()), ("@j", older.Signature));
        Assert.True(Log.Verify().IsValid, "without outside knowledge a rollback to a genuine head is self-consistent");

        AuditVerificationResult result = AuditLog.Verify(Store, _key.PublicJwk, kept);

        Assert.Equal(AuditFault.Truncated, result.Fault);
        Assert.Equal(5, result.FirstBadSequence);
    }

    [EnvironmentFact]
    public void Rewritten_entry_with_all_later_hashes_recomputed_is_named()
    {
        RewriteFrom(3);

        AssertFault(AuditFault.TreeHeadMismatch, 3);
    }

    [EnvironmentFact]
    public void Rewritten_last_entry_is_named_by_the_signed_head()
    {
        RewriteFrom(Entries);

        AssertFault(AuditFault.HeadMismatch, Entries);
    }

    [EnvironmentFact]
    public void Entries_appended_without_the_audit_key_are_detected()
    {
        AuditEntryRecord last = Store.ReadAuditEntries(Entries).Single();
        DateTimeOffset time = last.Time.AddSeconds(1);
        string body = new JsonObject { [AuditLog.TreeHeadMember] = Store.GetAuditHead()!.Signature }.ToJsonString();
        byte[] hash = AuditLog.ComputeLeafHash(Entries + 1, time, "ReleaseGranted", body, last.EntryHash);
        Execute("INSERT INTO audit_entries (seq, time_ms, kind, body, prev_hash, entry_hash) VALUES (@q, @t, 'ReleaseGranted', @b, @p, @h)",
            ("@q", Entries + 1), ("@t", time.ToUnixTimeMilliseconds()), ("@b", body), ("@p", last.EntryHash), ("@h", hash));

        AssertFault(AuditFault.UnsignedEntries, Entries + 1);
    }

    [EnvironmentFact]
    public void Verification_with_another_audit_key_fails()
    {
        using AuditSigningKey other = AuditSigningKey.CreateEphemeral();

        Assert.Equal(AuditFault.HeadSignatureInvalid, Log.Verify(other.PublicJwk).Fault);
    }

    [EnvironmentFact]
    public void Deleted_head_is_detected()
    {
        Execute("DELETE FROM audit_head");

        AssertFault(AuditFault.HeadMissing, 1);
    }

    [EnvironmentFact]
    public void Appends_continue_the_tree_after_a_restart_and_after_another_writer()
    {
        _ = Log;
        using IKeyBrokerStore reopened = OpenInitializedStore();
        var restarted = new AuditLog(reopened, _key, _time);

        AuditEntry entry = restarted.Append(AuditEntryKind.KeyRegistered, new JsonObject { ["key"] = "x" });
        AuditEntry next = Log.Append(AuditEntryKind.KeyRegistered, new JsonObject { ["key"] = "y" });

        Assert.Equal(Entries + 1, entry.Sequence);
        Assert.Equal(Entries + 2, next.Sequence);
        AuditVerificationResult result = Log.Verify();
        Assert.True(result.IsValid, result.Detail);
        Assert.Equal(MerkleTree.Root(Store.ReadAuditEntries().Select(e => e.EntryHash).ToList()), result.RootHash);
    }

    [EnvironmentFact]
    public void Rolled_back_append_leaves_no_trace()
    {
        using (IKeyBrokerTransaction transaction = Store.BeginWrite())
        {
            Log.Append(transaction, AuditEntryKind.KeyRegistered, new JsonObject { ["key"] = "lost" });
        }

        AuditEntry entry = Log.Append(AuditEntryKind.KeyRegistered, new JsonObject { ["key"] = "kept" });

        Assert.Equal(Entries + 1, entry.Sequence);
        Assert.True(Log.Verify().IsValid);
    }

    [EnvironmentFact]
    public void Reserved_member_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Log.Append(AuditEntryKind.KeyRegistered, new JsonObject { [AuditLog.TreeHeadMember] = "x" }));
    }

    [EnvironmentFact]
    public void Inclusion_proofs_of_every_entry_at_every_size_check_offline()
    {
        Jwk published = Jwk.Parse(_key.PublicJwk.ToJson());
        for (long size = 1; size <= Entries; size++)
        {
            for (long sequence = 1; sequence <= size; sequence++)
            {
                string json = Log.ProveInclusion(sequence, size).ToJson().ToJsonString();

                AuditInclusionProof checkedProof = AuditInclusionProof.Check(json, published);

                Assert.Equal(sequence, checkedProof.Entry.Sequence);
                Assert.Equal(size, checkedProof.TreeHead.TreeSize);
            }
        }
    }

    [EnvironmentFact]
    public void Altered_inclusion_proofs_fail()
    {
        JsonObject proof = Log.ProveInclusion(3).ToJson();
        using AuditSigningKey other = AuditSigningKey.CreateEphemeral();

        AssertRejected(Mutate(proof, p => p["entry"]!["body"] = p["entry"]!["body"]!.GetValue<string>().Replace("SvnTooLow", "Granted", StringComparison.Ordinal)));
        AssertRejected(Mutate(proof, p => p["leafIndex"] = 3));
        AssertRejected(Mutate(proof, p => p["treeSize"] = 5));
        AssertRejected(Mutate(proof, p => p["signedTreeHead"]!["treeSize"] = 5));
        AssertRejected(Mutate(proof, p => p["auditPath"]!.AsArray().RemoveAt(0)));
        AssertRejected(Mutate(proof, p => p["auditPath"]![0] = new string('0', 64)));
        Assert.Throws<AuditProofException>(() => AuditInclusionProof.Check(proof.ToJsonString(), other.PublicJwk));
        AuditInclusionProof.Check(proof.ToJsonString(), _key.PublicJwk);
    }

    [EnvironmentFact]
    public void Consistency_proofs_between_all_sizes_check_offline_and_altered_ones_fail()
    {
        for (long from = 1; from <= Entries; from++)
        {
            for (long to = from; to <= Entries; to++)
            {
                AuditConsistencyProof.Check(Log.ProveConsistency(from, to).ToJson().ToJsonString(), _key.PublicJwk);
            }
        }

        JsonObject proof = Log.ProveConsistency(3, Entries).ToJson();
        AssertConsistencyRejected(Mutate(proof, p => p["proof"]![0] = new string('0', 64)));
        AssertConsistencyRejected(Mutate(proof, p => p["from"] = Log.GetSignedTreeHead(2).ToJson()));
        AssertConsistencyRejected(Mutate(proof, p => p["fromSize"] = 2));
    }

    [EnvironmentFact]
    public void Proofs_are_refused_when_the_store_no_longer_matches_its_signed_heads()
    {
        RewriteFrom(3);

        Assert.Throws<AuditProofException>(() => Log.ProveInclusion(2));
        Assert.Throws<AuditProofException>(() => Log.ProveConsistency(2, Entries));
    }

    public void Dispose()
    {
        _store?.Dispose();
        _key.Dispose();
        DisposeStorage();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases whatever backs the store (files, databases).</summary>
    protected virtual void DisposeStorage()
    {
    }

    /// <summary>Tampers with the rows of the populated log.</summary>
    private void Execute(string sql, params (string Name, object Value)[] parameters)
    {
        _ = Log;
        ExecuteSql(sql, parameters);
    }

    private IKeyBrokerStore OpenInitializedStore()
    {
        IKeyBrokerStore store = OpenStore();
        store.Initialize();
        return store;
    }

    private AuditLog CreatePopulatedLog()
    {
        _store ??= OpenInitializedStore();
        var log = new AuditLog(_store, _key, _time);
        for (int i = 1; i <= Entries; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            log.Append(i % 2 == 0 ? AuditEntryKind.ReleaseGranted : AuditEntryKind.ReleaseDenied, new JsonObject
            {
                ["key"] = "fashion-eu",
                ["version"] = 1,
                ["jti"] = $"token-{i}",
                ["reason"] = i % 2 == 0 ? "Granted" : "SvnTooLow",
            });
        }

        return log;
    }

    /// <summary>Edits entry <paramref name="first"/> and recomputes every link and leaf hash after it, as an
    /// attacker without the audit key can.</summary>
    private void RewriteFrom(long first)
    {
        _ = Log;
        List<AuditEntryRecord> entries = Store.ReadAuditEntries().ToList();
        byte[] previous = entries[(int)first - 2].EntryHash;
        for (int i = (int)first - 1; i < entries.Count; i++)
        {
            string body = i == first - 1 ? entries[i].Body.Replace("token-", "forged-", StringComparison.Ordinal) : entries[i].Body;
            byte[] hash = AuditLog.ComputeLeafHash(entries[i].Sequence, entries[i].Time, entries[i].Kind, body, previous);
            Execute("UPDATE audit_entries SET body = @b, prev_hash = @p, entry_hash = @h WHERE seq = @s",
                ("@b", body), ("@p", previous), ("@h", hash), ("@s", entries[i].Sequence));
            previous = hash;
        }
    }

    private void AssertFault(AuditFault fault, long firstBad)
    {
        AuditVerificationResult result = Log.Verify();
        Assert.False(result.IsValid);
        Assert.Equal(fault, result.Fault);
        Assert.Equal(firstBad, result.FirstBadSequence);
        Assert.Contains($"entry {firstBad.ToString(System.Globalization.CultureInfo.InvariantCulture)}", result.Detail, StringComparison.Ordinal);
    }

    private static string Mutate(JsonObject proof, Action<JsonObject> change)
    {
        var copy = (JsonObject)proof.DeepClone();
        change(copy);
        return copy.ToJsonString();
    }

    private void AssertRejected(string json) =>
        Assert.Throws<AuditProofException>(() => AuditInclusionProof.Check(json, _key.PublicJwk));

    private void AssertConsistencyRejected(string json) =>
        Assert.Throws<AuditProofException>(() => AuditConsistencyProof.Check(json, _key.PublicJwk));
}

/// <summary>The audit log contract against the embedded SQLite store.</summary>
public sealed class SqliteAuditLogTests : StoreAuditLogTests
{
    public SqliteAuditLogTests()
        : base(KeyBrokerStoreKind.Sqlite)
    {
    }
}

[RequiresEnvironment(StoreTarget.PostgresVariable)]
[Collection(StoreTarget.PostgresCollection)]
public sealed class PostgresAuditLogTests : StoreAuditLogTests
{
    public PostgresAuditLogTests()
        : base(KeyBrokerStoreKind.Postgres)
    {
    }
}

/// <summary>The contract over one of the broker's stores, tampered with through raw SQL.</summary>
public abstract class StoreAuditLogTests(KeyBrokerStoreKind kind) : AuditLogContractTests
{
    private readonly StoreTarget _target = StoreTarget.Create(kind);

    protected override IKeyBrokerStore OpenStore() => _target.Open();

    protected override void ExecuteSql(string sql, params (string Name, object Value)[] parameters) => _target.Execute(sql, parameters);

    protected override void DisposeStorage() => _target.Dispose();
}
