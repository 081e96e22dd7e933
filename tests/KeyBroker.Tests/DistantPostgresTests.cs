using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Testing;
using Npgsql;

namespace Enclave.KeyBroker.Tests;

/// <summary>The group-commit writer against a PostgreSQL server 5 ms away (a delaying proxy in front of the test
/// server): concurrent writes must still share physical transactions, and a batch must cost a few round trips in
/// all, not a few for each write.</summary>
[Collection(StoreTarget.PostgresCollection)]
public sealed class DistantPostgresTests : IDisposable
{
    private static readonly DateTimeOffset s_now = new(2026, 1, 15, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan s_oneWay = TimeSpan.FromMilliseconds(5);

    private readonly StoreTarget _target = StoreTarget.Create(KeyBrokerStoreKind.Postgres);

    public void Dispose() => _target.Dispose();

    [EnvironmentFact]
    public async Task Concurrent_writes_to_a_distant_database_share_batches_of_a_few_round_trips()
    {
        var direct = new NpgsqlConnectionStringBuilder(_target.ConnectionString);
        await using var proxy = new DelayingTcpProxy(direct.Port, s_oneWay);
        string distant = new NpgsqlConnectionStringBuilder(_target.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;
        using var store = new PostgresKeyBrokerStore(distant);
        store.Initialize();
        using AuditSigningKey key = AuditSigningKey.CreateEphemeral();
        var log = new AuditLog(store, key, TimeProvider.System);

        // One write first: the writer's connection is then open, and the log has an entry and a head to continue from.
        await store.WriteAsync(t => log.Append(t, AuditEntryKind.KeyRegistered, new JsonObject { ["name"] = "k" }));
        long before = proxy.ClientSends;

        // Sixteen releases at once, each consuming its nonce and appending its record, as the broker's do.
        byte[][] nonces = [.. Enumerable.Range(0, 16).Select(i => SHA256.HashData(BitConverter.GetBytes(i)))];
        NonceConsumption[] uses = await Task.WhenAll(nonces.Select((nonce, i) => store.WriteAsync(t =>
        {
            NonceConsumption use = t.ConsumeNonce(nonce, s_now.AddMinutes(5), s_now);
            log.Append(t, AuditEntryKind.ReleaseGranted, new JsonObject { ["jti"] = $"token-{i}" });
            return use;
        }, nonce)));
        long roundTrips = proxy.ClientSends - before;

        Assert.All(uses, use => Assert.Equal(NonceConsumption.Consumed, use));
        AuditVerificationResult verification = AuditLog.Verify(store, key.PublicJwk);
        Assert.True(verification.IsValid, verification.Detail);
        Assert.Equal(17, verification.VerifiedEntries);

        // A batch begins with one round trip (the writer lock, the first query and what the batch will read, in one
        // command), plus one more for the nonces of writes that queued after it, and ends with two (the head row,
        // COMMIT). When the lock took a round trip of its own, each read another, and a batch's age counted from
        // its begin, every write here was a batch of its own: about 6 round trips each, 96 in all. (4 to 7 here; the
        // bound leaves room for a loaded machine that closes a batch or two early.)
        Assert.InRange(roundTrips, 3, 24);
    }
}
