using Enclave.Crypto;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tests.Support;
using Enclave.KeyBroker.Tokens;
using Enclave.Testing;

namespace Enclave.KeyBroker.Tests;

public abstract class NonceStoreTests : IDisposable
{
    private readonly StoreTarget _target;
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 15, 10, 0, 0, TimeSpan.Zero));
    private readonly IKeyBrokerStore _store;
    private readonly NonceStore _nonces;

    protected NonceStoreTests(KeyBrokerStoreKind kind)
    {
        _target = StoreTarget.Create(kind);
        _store = _target.Open();
        _store.Initialize();
        _nonces = new NonceStore(_store, _time);
    }

    [EnvironmentFact]
    public void Nonce_is_32_random_bytes_in_base64url()
    {
        string a = _nonces.Issue(TimeSpan.FromMinutes(5));
        string b = _nonces.Issue(TimeSpan.FromMinutes(5));

        Assert.Equal(43, a.Length);
        Assert.Equal(32, Base64Url.Decode(a).Length);
        Assert.NotEqual(a, b);
    }

    [EnvironmentFact]
    public void Nonce_is_consumed_once()
    {
        string nonce = _nonces.Issue(TimeSpan.FromMinutes(5));

        Assert.True(_nonces.TryConsume(nonce));
        Assert.False(_nonces.TryConsume(nonce));
    }

    [EnvironmentFact]
    public void Expired_unknown_and_malformed_nonces_are_refused()
    {
        IssuedNonce issued = _nonces.IssueWithExpiry(TimeSpan.FromMinutes(5));
        Assert.Equal(_time.GetUtcNow().AddMinutes(5), issued.ExpiresAt);
        _time.Advance(TimeSpan.FromMinutes(5));

        Assert.False(_nonces.TryConsume(issued.Value));
        Assert.False(_nonces.TryConsume(Base64Url.Encode(new byte[32])));
        Assert.False(_nonces.TryConsume("short"));
        Assert.False(_nonces.TryConsume(null));
        Assert.False(_nonces.TryConsume(issued.Value + "A"));
    }

    [EnvironmentFact]
    public void Nonce_survives_a_restart()
    {
        string nonce = _nonces.Issue(TimeSpan.FromMinutes(5));
        using IKeyBrokerStore second = _target.Open();
        var reopened = new NonceStore(second, _time);

        Assert.True(reopened.TryConsume(nonce));
        Assert.False(_nonces.TryConsume(nonce));
    }

    [EnvironmentFact]
    public async Task Concurrent_consumers_succeed_exactly_once()
    {
        string nonce = _nonces.Issue(TimeSpan.FromMinutes(5));

        bool[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => _nonces.TryConsume(nonce))));

        Assert.Single(results, r => r);
    }

    public void Dispose()
    {
        _store.Dispose();
        _target.Dispose();
        GC.SuppressFinalize(this);
    }
}

public sealed class SqliteNonceStoreTests() : NonceStoreTests(KeyBrokerStoreKind.Sqlite);

[RequiresEnvironment(StoreTarget.PostgresVariable)]
[Collection(StoreTarget.PostgresCollection)]
public sealed class PostgresNonceStoreTests() : NonceStoreTests(KeyBrokerStoreKind.Postgres);
