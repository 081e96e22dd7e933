using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Testing;
using Npgsql;

namespace Enclave.KeyBroker.Tests;

/// <summary>Group commit against a PostgreSQL server 5 ms away (a delaying proxy in front of the test server):
/// concurrent writes share physical transactions, so the begin, the head row and the COMMIT are paid once per batch,
/// not once per write.</summary>
[Collection(StoreTarget.PostgresCollection)]
public sealed class DistantPostgresTests : IDisposable
{
    private static readonly DateTimeOffset s_now = new(2026, 1, 15, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan s_oneWay = TimeSpan.FromMilliseconds(5);

    private readonly StoreTarget _target = StoreTarget.Create(KeyBrokerStoreKind.Postgres);

    public void Dispose() => _target.Dispose();

    [EnvironmentFact]
    public async Task Concurrent_writes_to_a_distant_database_share_transactions()
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
        })));
        long roundTrips = proxy.ClientSends - before;

        Assert.All(uses, use => Assert.Equal(NonceConsumption.Consumed, use));
        AuditVerificationResult verification = AuditLog.Verify(store, key.PublicJwk);
        Assert.True(verification.IsValid, verification.Detail);
        Assert.Equal(17, verification.VerifiedEntries);

        // A write alone costs nine round trips (BEGIN with the writer lock, SAVEPOINT, the nonce, the last entry, the
        // head, the entry, RELEASE, the head row, COMMIT): 144 for sixteen one after the other. Sharing a transaction,
        // each write after the first costs four (SAVEPOINT, the nonce, the entry, RELEASE): 69 in one batch. The bound
        // leaves room for a loaded machine that splits the writes over a few batches.
        Assert.InRange(roundTrips, 60, 110);
    }
}
