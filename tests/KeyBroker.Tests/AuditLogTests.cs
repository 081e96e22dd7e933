using System.Text.Json.Nodes;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Testing;

namespace Enclave.KeyBroker.Tests;

/// <summary>The hash-chained log detects edited, deleted, reordered and truncated rows, on every store.</summary>
public abstract class AuditLogTests : IDisposable
{
    private readonly Support.TempDirectory _directory = new();
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 15, 10, 0, 0, TimeSpan.Zero));
    private readonly StoreTarget _target;
    private readonly IKeyBrokerStore _store;
    private readonly AuditSigningKey _key;
    private readonly AuditLog _log;

    protected AuditLogTests(KeyBrokerStoreKind kind)
    {
        _target = StoreTarget.Create(kind);
        _store = _target.Open();
        _store.Initialize();
        _key = AuditSigningKey.LoadOrCreate(_directory.Combine(AuditSigningKey.DefaultFileName));
        _log = new AuditLog(_store, _key, _time);
        for (int i = 1; i <= 6; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            _log.Append(i % 2 == 0 ? AuditEntryKind.ReleaseGranted : AuditEntryKind.ReleaseDenied, new JsonObject
            {
                ["key"] = "fashion-eu",
                ["version"] = 1,
                ["jti"] = $"token-{i}",
                ["reason"] = i % 2 == 0 ? "Granted" : "SvnTooLow",
            });
        }
    }

    [EnvironmentFact]
    public void Intact_log_verifies()
    {
        AuditVerificationResult result = _log.Verify();

        Assert.True(result.IsValid, result.Detail);
        Assert.Equal(6, result.VerifiedEntries);
        Assert.Equal(6, _log.GetHead()!.Size);
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), _log.ReadEntries().Select(e => e.Sequence));
    }

    [EnvironmentFact]
    public void Edited_body_names_the_entry()
    {
        _target.Execute("UPDATE audit_entries SET body = replace(body, 'SvnTooLow', 'Granted') WHERE seq = 3");

        AssertFault(AuditFault.EntryEdited, 3);
    }

    [EnvironmentFact]
    public void Edited_time_or_kind_names_the_entry()
    {
        _target.Execute("UPDATE audit_entries SET time_ms = time_ms + 1 WHERE seq = 4");
        AssertFault(AuditFault.EntryEdited, 4);
        _target.Execute("UPDATE audit_entries SET time_ms = time_ms - 1, kind = 'ReleaseGranted' WHERE seq = 3");
        AssertFault(AuditFault.EntryEdited, 3);
    }

    [EnvironmentFact]
    public void Deleted_entry_is_named()
    {
        _target.Execute("DELETE FROM audit_entries WHERE seq = 3");

        AssertFault(AuditFault.EntryMissing, 3);
    }

    [EnvironmentFact]
    public void Deleted_and_renumbered_entries_break_the_chain()
    {
        _target.Execute("DELETE FROM audit_entries WHERE seq = 3");
        _target.Execute("UPDATE audit_entries SET seq = seq - 1 WHERE seq > 3");

        AssertFault(AuditFault.ChainBroken, 3);
    }

    [EnvironmentFact]
    public void Reordered_entries_are_named()
    {
        _target.Execute("UPDATE audit_entries SET seq = 100 WHERE seq = 3");
        _target.Execute("UPDATE audit_entries SET seq = 3 WHERE seq = 4");
        _target.Execute("UPDATE audit_entries SET seq = 4 WHERE seq = 100");

        AssertFault(AuditFault.ChainBroken, 3);
    }

    [EnvironmentFact]
    public void Truncated_tail_is_detected_against_the_signed_head()
    {
        _target.Execute("DELETE FROM audit_entries WHERE seq > 4");

        AssertFault(AuditFault.Truncated, 5);
    }

    [EnvironmentFact]
    public void Truncated_tail_with_a_forged_head_size_fails_the_head_signature()
    {
        _target.Execute("DELETE FROM audit_entries WHERE seq > 4");
        _target.Execute(
            "UPDATE audit_head SET size = 4, head_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 4)");

        AuditVerificationResult result = _log.Verify();
        Assert.Equal(AuditFault.HeadSignatureInvalid, result.Fault);
        Assert.Null(result.FirstBadSequence);
    }

    [EnvironmentFact]
    public void Rewritten_chain_is_detected_by_the_signed_head()
    {
        List<AuditEntryRecord> entries = _store.ReadAuditEntries().ToList();
        byte[] previous = entries[1].EntryHash;
        for (int i = 2; i < entries.Count; i++)
        {
            string body = i == 2 ? entries[i].Body.Replace("SvnTooLow", "Granted", StringComparison.Ordinal) : entries[i].Body;
            byte[] hash = AuditLog.ComputeEntryHash(entries[i].Sequence, entries[i].Time, entries[i].Kind, body, previous);
            _target.Execute("UPDATE audit_entries SET body = @b, prev_hash = @p, entry_hash = @h WHERE seq = @s",
                ("@b", body), ("@p", previous), ("@h", hash), ("@s", entries[i].Sequence));
            previous = hash;
        }

        AssertFault(AuditFault.HeadMismatch, 6);
    }

    [EnvironmentFact]
    public void Entries_appended_without_the_audit_key_are_detected()
    {
        AuditEntryRecord last = _store.ReadAuditEntries(6).Single();
        DateTimeOffset time = last.Time.AddSeconds(1);
        byte[] hash = AuditLog.ComputeEntryHash(7, time, "ReleaseGranted", "{}", last.EntryHash);
        _target.Execute("INSERT INTO audit_entries VALUES (7, @t, 'ReleaseGranted', '{}', @p, @h)",
            ("@t", time.ToUnixTimeMilliseconds()), ("@p", last.EntryHash), ("@h", hash));

        AssertFault(AuditFault.UnsignedEntries, 7);
    }

    [EnvironmentFact]
    public void Verification_with_another_audit_key_fails()
    {
        using AuditSigningKey other = AuditSigningKey.CreateEphemeral();

        Assert.Equal(AuditFault.HeadSignatureInvalid, _log.Verify(other.PublicJwk).Fault);
    }

    [EnvironmentFact]
    public void Deleted_head_is_detected()
    {
        _target.Execute("DELETE FROM audit_head");

        AssertFault(AuditFault.HeadMissing, 1);
    }

    [EnvironmentFact]
    public void Appends_continue_the_chain_after_a_restart()
    {
        using IKeyBrokerStore second = _target.Open();
        var reopened = new AuditLog(second, _key, _time);

        AuditEntry entry = reopened.Append(AuditEntryKind.KeyRegistered, new JsonObject { ["key"] = "x" });

        Assert.Equal(7, entry.Sequence);
        Assert.True(_log.Verify().IsValid);
    }

    public void Dispose()
    {
        _key.Dispose();
        _store.Dispose();
        _target.Dispose();
        _directory.Dispose();
        GC.SuppressFinalize(this);
    }

    private void AssertFault(AuditFault fault, long firstBad)
    {
        AuditVerificationResult result = _log.Verify();
        Assert.False(result.IsValid);
        Assert.Equal(fault, result.Fault);
        Assert.Equal(firstBad, result.FirstBadSequence);
        Assert.Contains(firstBad.ToString(System.Globalization.CultureInfo.InvariantCulture), result.Detail, StringComparison.Ordinal);
    }
}

public sealed class SqliteAuditLogTests() : AuditLogTests(KeyBrokerStoreKind.Sqlite);

[RequiresEnvironment(StoreTarget.PostgresVariable)]
public sealed class PostgresAuditLogTests() : AuditLogTests(KeyBrokerStoreKind.Postgres);
