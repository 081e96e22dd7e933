using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Testing;

namespace Enclave.KeyBroker.Tests;

/// <summary>The store contract (IKeyBrokerStore): serialised writers, all-or-nothing transactions, a
/// gapless audit sequence across store instances, commits visible to a new instance.</summary>
public abstract class StoreTests : IDisposable
{
    private static readonly DateTimeOffset s_now = new(2026, 1, 15, 10, 0, 0, TimeSpan.Zero);

    private readonly StoreTarget _target;
    private readonly IKeyBrokerStore _store;

    protected StoreTests(KeyBrokerStoreKind kind)
    {
        _target = StoreTarget.Create(kind);
        _store = _target.Open();
        _store.Initialize();
    }

    [EnvironmentFact]
    public void Initialize_is_idempotent_and_keeps_data()
    {
        byte[] nonce = Hash("kept");
        using (IKeyBrokerTransaction transaction = _store.BeginWrite())
        {
            Assert.Equal(NonceConsumption.Consumed, Use(transaction, nonce));
            transaction.Commit();
        }

        using IKeyBrokerStore second = _target.Open();
        second.Initialize();
        _store.Initialize();

        using IKeyBrokerTransaction check = second.BeginWrite();
        Assert.Equal(NonceConsumption.Replayed, Use(check, nonce));
        check.Commit();
    }

    [EnvironmentFact]
    public void Transaction_disposed_without_commit_leaves_nothing()
    {
        using (IKeyBrokerTransaction transaction = _store.BeginWrite())
        {
            Use(transaction, Hash("rolled-back"));
            transaction.InsertKeyVersion(Key("k", 1));
            transaction.InsertAuditEntry(new AuditEntryRecord(1, s_now, "KeyRegistered", "{}", new byte[32], new byte[32]));
        }

        Assert.Null(_store.GetLatestKey("k"));
        Assert.Empty(_store.ReadAuditEntries());
        using IKeyBrokerTransaction check = _store.BeginWrite();
        Assert.Equal(NonceConsumption.Consumed, Use(check, Hash("rolled-back")));
        check.Commit();
    }

    [EnvironmentFact]
    public void Failed_statement_rolls_back_only_its_own_transaction()
    {
        using (IKeyBrokerTransaction first = _store.BeginWrite())
        {
            first.InsertKeyVersion(Key("k", 1));
            first.Commit();
        }

        using (IKeyBrokerTransaction duplicate = _store.BeginWrite())
        {
            Use(duplicate, Hash("with-duplicate"));
            Assert.ThrowsAny<System.Data.Common.DbException>(() => duplicate.InsertKeyVersion(Key("k", 1)));
        }

        using (IKeyBrokerTransaction next = _store.BeginWrite())
        {
            Assert.Equal(NonceConsumption.Consumed, Use(next, Hash("with-duplicate")));
            next.InsertKeyVersion(Key("k", 2));
            next.Commit();
        }

        Assert.Equal(2, _store.GetLatestKey("k")!.Version);
    }

    [EnvironmentFact]
    public void Owner_request_ids_and_nonces_are_single_use_and_purged_when_expired()
    {
        using (IKeyBrokerTransaction transaction = _store.BeginWrite())
        {
            Assert.True(transaction.TryRecordOwnerRequest("owner:1", s_now.AddMinutes(1)));
            Assert.False(transaction.TryRecordOwnerRequest("owner:1", s_now.AddMinutes(1)));
            Assert.Equal(NonceConsumption.Consumed, transaction.ConsumeNonce(Hash("old"), s_now.AddMinutes(1), s_now));
            Assert.Equal(NonceConsumption.Consumed, transaction.ConsumeNonce(Hash("recent"), s_now.AddMinutes(5), s_now));
            transaction.Commit();
        }

        // Owner request ids go at their expiry; consumed nonces a retention margin after theirs, and a nonce
        // expiring at or before the purged range is refused outright rather than checked against a purged table.
        DateTimeOffset later = s_now.AddMinutes(1) + NonceStore.ConsumedRetention + TimeSpan.FromMinutes(1);
        using (IKeyBrokerTransaction purge = _store.BeginWrite())
        {
            purge.PurgeExpired(later);
            Assert.True(purge.TryRecordOwnerRequest("owner:1", later.AddMinutes(3)));
            Assert.Equal(NonceConsumption.Expired, purge.ConsumeNonce(Hash("old"), s_now.AddMinutes(1), s_now));
            Assert.Equal(NonceConsumption.Replayed, purge.ConsumeNonce(Hash("recent"), s_now.AddMinutes(5), s_now));
            purge.Commit();
        }
    }

    [EnvironmentFact]
    public void Key_versions_round_trip_and_update_in_place()
    {
        KeyVersionRecord record = Key("k", 1);
        using (IKeyBrokerTransaction transaction = _store.BeginWrite())
        {
            transaction.InsertKeyVersion(record);
            transaction.UpdateKeyVersion(record with { PolicyJson = "{\"v\":2}", Enabled = false, WrappedKey = [9, 9] });
            transaction.Commit();
        }

        KeyVersionRecord stored = _store.GetLatestKey("k")!;
        Assert.Equal("{\"v\":2}", stored.PolicyJson);
        Assert.False(stored.Enabled);
        Assert.Equal(new byte[] { 9, 9 }, stored.WrappedKey);
        Assert.Equal(record.CreatedAt, stored.CreatedAt);
        Assert.Equal(record.OwnerThumbprint, stored.OwnerThumbprint);
        using IKeyBrokerTransaction missing = _store.BeginWrite();
        Assert.Throws<InvalidOperationException>(() => missing.UpdateKeyVersion(Key("absent", 1)));
    }

    [EnvironmentFact]
    public async Task Concurrent_writers_on_two_instances_append_a_gapless_verifiable_log()
    {
        using AuditSigningKey key = AuditSigningKey.CreateEphemeral();
        using IKeyBrokerStore second = _target.Open();
        var logs = new[] { new AuditLog(_store, key, TimeProvider.System), new AuditLog(second, key, TimeProvider.System) };

        // Asynchronous writers, as in the service: forty threads blocked in the synchronous API starve the pool
        // that the PostgreSQL driver itself needs, and the two writers then wait on each other's lock for seconds.
        AuditEntry[] entries = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            await Task.Yield();
            return await logs[i % 2].AppendAsync(AuditEntryKind.ReleaseGranted, new JsonObject { ["jti"] = $"token-{i}" });
        }));

        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), entries.Select(e => e.Sequence).Order());
        AuditVerificationResult result = AuditLog.Verify(_store, key.PublicJwk);
        Assert.True(result.IsValid, result.Detail);
        Assert.Equal(40, result.VerifiedEntries);
    }

    [EnvironmentFact]
    public async Task Committed_and_abandoned_transactions_interleaved_keep_exactly_the_committed()
    {
        await Task.WhenAll(Enumerable.Range(0, 48).Select(async i =>
        {
            await Task.Yield();
            using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync();
            Use(transaction, Hash($"n{i}"));
            if (i % 3 != 0)
            {
                await transaction.CommitAsync();
            }
        }));

        using IKeyBrokerStore reopened = _target.Open();
        using IKeyBrokerTransaction check = reopened.BeginWrite();
        for (int i = 0; i < 48; i++)
        {
            Assert.Equal(i % 3 != 0 ? NonceConsumption.Replayed : NonceConsumption.Consumed, Use(check, Hash($"n{i}")));
        }

        check.Commit();
    }

    [EnvironmentFact]
    public async Task Audit_appends_batched_with_abandoned_ones_leave_a_verifiable_log_of_exactly_the_committed()
    {
        // Concurrent writers share physical transactions, so appends follow one another within a batch (the
        // writer's remembered tail and deferred head) and some roll back in the middle of one. The writers wait
        // asynchronously, as releases do: sixty threads blocked in the synchronous API starve the pool.
        using AuditSigningKey key = AuditSigningKey.CreateEphemeral();
        var log = new AuditLog(_store, key, TimeProvider.System);
        AuditEntry?[] appended = await Task.WhenAll(Enumerable.Range(0, 60).Select(async i =>
        {
            await Task.Yield();
            using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync();
            AuditEntry entry = log.Append(transaction, AuditEntryKind.ReleaseGranted, new JsonObject { ["jti"] = $"token-{i}" });
            if (i % 4 == 1)
            {
                return null;
            }

            await transaction.CommitAsync();
            return entry;
        }));

        AuditEntry[] committed = [.. appended.OfType<AuditEntry>()];
        AuditVerificationResult result = AuditLog.Verify(_store, key.PublicJwk);
        Assert.True(result.IsValid, result.Detail);
        Assert.Equal(45, result.VerifiedEntries);
        Assert.Equal(45, committed.Length);
        Assert.Equal(
            committed.Select(e => e.Body).Order(StringComparer.Ordinal),
            _store.ReadAuditEntries().Select(e => e.Body).Order(StringComparer.Ordinal));
        Assert.Equal(45, _store.GetAuditHead()!.Size);
    }

    [EnvironmentFact]
    public async Task Writes_run_on_the_writer_thread_interleaved_with_transactions_keep_exactly_what_succeeded()
    {
        // Jobs (WriteAsync, as releases write) and ordinary asynchronous transactions share batches; a job that
        // throws stores nothing of its own and leaves the others of its batch alone.
        using AuditSigningKey key = AuditSigningKey.CreateEphemeral();
        var log = new AuditLog(_store, key, TimeProvider.System);
        long?[] sequences = await Task.WhenAll(Enumerable.Range(0, 60).Select(async i =>
        {
            await Task.Yield();
            if (i % 3 == 0)
            {
                using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync();
                AuditEntry entry = log.Append(transaction, AuditEntryKind.ReleaseGranted, new JsonObject { ["jti"] = $"token-{i}" });
                await transaction.CommitAsync();
                return entry.Sequence;
            }

            try
            {
                return await _store.WriteAsync(transaction =>
                {
                    Assert.Equal(NonceConsumption.Consumed, Use(transaction, Hash($"w{i}")));
                    AuditEntry entry = log.Append(transaction, AuditEntryKind.ReleaseGranted, new JsonObject { ["jti"] = $"token-{i}" });
                    return i % 5 == 1 ? throw new InvalidOperationException($"job {i} fails after writing") : (long?)entry.Sequence;
                });
            }
            catch (InvalidOperationException e) when (e.Message == $"job {i} fails after writing")
            {
                return null;
            }
        }));

        int failed = Enumerable.Range(0, 60).Count(i => i % 3 != 0 && i % 5 == 1);
        Assert.Equal(60 - failed, sequences.Count(s => s is not null));
        AuditVerificationResult result = AuditLog.Verify(_store, key.PublicJwk);
        Assert.True(result.IsValid, result.Detail);
        Assert.Equal(60 - failed, result.VerifiedEntries);
        Assert.Equal(Enumerable.Range(1, 60 - failed).Select(i => (long)i), sequences.OfType<long>().Order());
        using IKeyBrokerTransaction check = _store.BeginWrite();
        for (int i = 0; i < 60; i++)
        {
            if (i % 3 != 0)
            {
                Assert.Equal(i % 5 == 1 ? NonceConsumption.Consumed : NonceConsumption.Replayed, Use(check, Hash($"w{i}")));
            }
        }
    }

    [EnvironmentFact]
    public async Task A_write_cancelled_while_queued_writes_nothing_and_does_not_hold_up_the_batch_before_it()
    {
        // The first writer commits while the job is queued, so the batch stays open for the job; the job, cancelled
        // by then, must still pass the writer on, or the first writer would wait for a durability that never comes.
        using IKeyBrokerTransaction first = await _store.BeginWriteAsync();
        Use(first, Hash("first"));
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Task<int> job = _store.WriteAsync(transaction => Use(transaction, Hash("cancelled")) == NonceConsumption.Consumed ? 1 : 0, cancelled.Token);
        Task committed = first.CommitAsync();

        Assert.Same(committed, await Task.WhenAny(committed, Task.Delay(TimeSpan.FromSeconds(30))));
        await committed;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => job);
        using IKeyBrokerTransaction check = _store.BeginWrite();
        Assert.Equal(NonceConsumption.Replayed, Use(check, Hash("first")));
        Assert.Equal(NonceConsumption.Consumed, Use(check, Hash("cancelled")));
    }

    [EnvironmentFact]
    public void A_failing_audit_insert_fails_at_once_and_its_transaction_stores_nothing()
    {
        // Every statement goes to the database when it is made, so a failure is its own transaction's, never a
        // later one's, and that transaction rolls back whole.
        using (IKeyBrokerTransaction existing = _store.BeginWrite())
        {
            existing.InsertAuditEntry(new AuditEntryRecord(1, s_now, "KeyRegistered", "{}", new byte[32], new byte[32]));
            existing.Commit();
        }

        using (IKeyBrokerTransaction first = _store.BeginWrite())
        {
            Use(first, Hash("first"));
            Assert.ThrowsAny<System.Data.Common.DbException>(() =>
                first.InsertAuditEntry(new AuditEntryRecord(1, s_now, "KeyRegistered", "{}", new byte[32], new byte[32])));
        }

        using IKeyBrokerTransaction check = _store.BeginWrite();
        Assert.Equal(NonceConsumption.Consumed, Use(check, Hash("first")));
        Assert.Single(_store.ReadAuditEntries());
    }

    [EnvironmentFact]
    public void Commit_twice_is_refused()
    {
        IKeyBrokerTransaction transaction = _store.BeginWrite();
        transaction.Commit();

        Assert.Throws<ObjectDisposedException>(transaction.Commit);
        transaction.Dispose();
    }

    [EnvironmentFact]
    public void A_write_transaction_reads_the_key_it_just_changed_not_an_earlier_read()
    {
        using (IKeyBrokerTransaction transaction = _store.BeginWrite())
        {
            Assert.Null(transaction.GetLatestKey("k"));
            transaction.InsertKeyVersion(Key("k", 1));
            Assert.Equal(1, transaction.GetLatestKey("k")!.Version);
            transaction.UpdateKeyVersion(Key("k", 1) with { Enabled = false });
            Assert.False(transaction.GetLatestKey("k")!.Enabled);
            transaction.Commit();
        }

        Assert.False(_store.GetLatestKey("k")!.Enabled);
    }

    [EnvironmentFact]
    public async Task A_rolled_back_key_change_is_not_seen_by_the_next_writer_of_the_same_batch()
    {
        Insert(Key("k", 1));

        // Hold the writer so the next three logical transactions queue up and share one physical transaction.
        IKeyBrokerTransaction holder = await _store.BeginWriteAsync();
        Task<int> read = _store.WriteAsync(t => t.GetLatestKey("k")!.Version);
        Task rolledBack = _store.WriteAsync<int>(t =>
        {
            t.InsertKeyVersion(Key("k", 2));
            Assert.Equal(2, t.GetLatestKey("k")!.Version);
            throw new InvalidOperationException("rolled back on purpose");
        });
        Task<int> after = _store.WriteAsync(t => t.GetLatestKey("k")!.Version);
        await holder.CommitAsync();
        holder.Dispose();

        Assert.Equal(1, await read);
        await Assert.ThrowsAsync<InvalidOperationException>(() => rolledBack);
        Assert.Equal(1, await after);
        Assert.Equal(1, _store.GetLatestKey("k")!.Version);
    }

    [EnvironmentFact]
    public async Task Queued_nonce_uses_see_uses_stored_before_and_in_their_batch_but_not_rolled_back_ones()
    {
        byte[] stored = Hash("stored"), fresh = Hash("fresh"), twice = Hash("twice"), undone = Hash("undone");
        using (IKeyBrokerStore other = _target.Open())
        using (IKeyBrokerTransaction earlier = other.BeginWrite())
        {
            Assert.Equal(NonceConsumption.Consumed, Use(earlier, stored));
            earlier.Commit();
        }

        // Hold the writer so the writes queue up, and share a batch.
        IKeyBrokerTransaction holder = await _store.BeginWriteAsync();
        Task<NonceConsumption> replayed = _store.WriteAsync(t => Use(t, stored));
        Task<NonceConsumption> consumed = _store.WriteAsync(t => Use(t, fresh));
        Task<NonceConsumption> first = _store.WriteAsync(t => Use(t, twice));
        Task<NonceConsumption> second = _store.WriteAsync(t => Use(t, twice));
        Task<NonceConsumption> rolledBack = _store.WriteAsync<NonceConsumption>(t =>
        {
            Assert.Equal(NonceConsumption.Consumed, Use(t, undone));
            throw new InvalidOperationException("rolled back on purpose");
        });
        Task<NonceConsumption> afterRollback = _store.WriteAsync(t => Use(t, undone));
        Task<NonceConsumption> again = _store.WriteAsync(t => Use(t, fresh));
        await holder.CommitAsync();
        holder.Dispose();

        Assert.Equal(NonceConsumption.Replayed, await replayed);
        Assert.Equal(NonceConsumption.Consumed, await consumed);
        Assert.Equal(NonceConsumption.Consumed, await first);
        Assert.Equal(NonceConsumption.Replayed, await second);
        await Assert.ThrowsAsync<InvalidOperationException>(() => rolledBack);
        Assert.Equal(NonceConsumption.Consumed, await afterRollback);
        Assert.Equal(NonceConsumption.Replayed, await again);

        using IKeyBrokerStore later = _target.Open();
        using IKeyBrokerTransaction check = later.BeginWrite();
        Assert.All(new[] { stored, fresh, twice, undone }, hash => Assert.Equal(NonceConsumption.Replayed, Use(check, hash)));
        Assert.Equal(NonceConsumption.Consumed, Use(check, Hash("never used")));
        check.Commit();
    }

    [EnvironmentFact]
    public async Task A_failed_statement_of_one_transaction_keeps_the_nonces_of_the_others_in_its_batch()
    {
        Insert(Key("k", 1));

        // A queued job consumes a nonce; an owner-style transaction queued behind it in the same batch then fails a
        // statement. Only the failing one is rolled back.
        IKeyBrokerTransaction holder = await _store.BeginWriteAsync();
        Task<NonceConsumption> kept = _store.WriteAsync(t => Use(t, Hash("kept")));
        Task<IKeyBrokerTransaction> next = _store.BeginWriteAsync();
        Task durable = holder.CommitAsync();
        using (IKeyBrokerTransaction failing = await next)
        {
            Assert.Equal(NonceConsumption.Consumed, Use(failing, Hash("undone")));
            Assert.ThrowsAny<System.Data.Common.DbException>(() => failing.InsertKeyVersion(Key("k", 1)));
        }

        await durable;
        holder.Dispose();
        Assert.Equal(NonceConsumption.Consumed, await kept);
        using IKeyBrokerTransaction check = _store.BeginWrite();
        Assert.Equal(NonceConsumption.Replayed, Use(check, Hash("kept")));
        Assert.Equal(NonceConsumption.Consumed, Use(check, Hash("undone")));
        check.Commit();
    }

    [EnvironmentFact]
    public void A_write_transaction_sees_a_key_another_store_instance_changed_before_it_began()
    {
        using (IKeyBrokerTransaction setup = _store.BeginWrite())
        {
            setup.InsertKeyVersion(Key("k", 1));
            Assert.Equal(1, setup.GetLatestKey("k")!.Version);
            setup.Commit();
        }

        using (IKeyBrokerStore other = _target.Open())
        using (IKeyBrokerTransaction change = other.BeginWrite())
        {
            change.InsertKeyVersion(Key("k", 2));
            change.Commit();
        }

        using IKeyBrokerTransaction check = _store.BeginWrite();
        Assert.Equal(2, check.GetLatestKey("k")!.Version);
        check.Commit();
    }

    public void Dispose()
    {
        _store.Dispose();
        _target.Dispose();
        GC.SuppressFinalize(this);
    }

    private static byte[] Hash(string text) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text));

    /// <summary>Consumes a nonce hash valid for five more minutes: a row to write and find again.</summary>
    private static NonceConsumption Use(IKeyBrokerTransaction transaction, byte[] nonceHash) =>
        transaction.ConsumeNonce(nonceHash, s_now.AddMinutes(5), s_now);

    private void Insert(KeyVersionRecord key)
    {
        using IKeyBrokerTransaction transaction = _store.BeginWrite();
        transaction.InsertKeyVersion(key);
        transaction.Commit();
    }

    private static KeyVersionRecord Key(string name, int version) =>
        new(name, version, "owner-thumbprint", [1, 2, 3], "{}", true, s_now);
}

public sealed class SqliteStoreTests() : StoreTests(KeyBrokerStoreKind.Sqlite);

[RequiresEnvironment(StoreTarget.PostgresVariable)]
[Collection(StoreTarget.PostgresCollection)]
public sealed class PostgresStoreTests() : StoreTests(KeyBrokerStoreKind.Postgres);
