using Enclave.Crypto;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tests.Support;
using Enclave.KeyBroker.Tokens;
using Enclave.Testing;

namespace Enclave.KeyBroker.Tests;

/// <summary>Nonces as issued and authenticated (no store involved).</summary>
public sealed class NonceIssueTests : IDisposable
{
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 15, 10, 0, 0, TimeSpan.Zero));
    private readonly NonceStore _nonces;

    public NonceIssueTests()
    {
        _nonces = NonceStore.CreateEphemeral(_time);
    }

    [Fact]
    public void Nonce_is_32_bytes_in_base64url_and_never_repeats()
    {
        string[] issued = [.. Enumerable.Range(0, 1000).Select(_ => _nonces.Issue(TimeSpan.FromMinutes(5)))];

        Assert.All(issued, n => Assert.Equal(NonceStore.EncodedLength, n.Length));
        Assert.All(issued, n => Assert.Equal(NonceStore.NonceBytes, Base64Url.Decode(n).Length));
        Assert.Equal(issued.Length, issued.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Issued_nonce_is_valid_until_its_expiry_then_expired()
    {
        IssuedNonce issued = _nonces.IssueWithExpiry(TimeSpan.FromMinutes(5));
        Assert.Equal(_time.GetUtcNow().AddMinutes(5), issued.ExpiresAt);

        Assert.Equal(NonceStatus.Valid, _nonces.Check(issued.Value, _time.GetUtcNow(), out DateTimeOffset expires));
        Assert.Equal(issued.ExpiresAt, expires);
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(NonceStatus.Expired, _nonces.Check(issued.Value, _time.GetUtcNow(), out _));
    }

    [Fact]
    public void Nonce_of_another_key_forged_or_malformed_is_unknown()
    {
        string issued = _nonces.Issue(TimeSpan.FromMinutes(5));
        using var other = NonceStore.CreateEphemeral(_time);
        byte[] bytes = Base64Url.Decode(issued);
        bytes[0] ^= 0x01;

        DateTimeOffset now = _time.GetUtcNow();
        Assert.Equal(NonceStatus.Unknown, other.Check(issued, now, out _));
        Assert.Equal(NonceStatus.Unknown, _nonces.Check(Base64Url.Encode(bytes), now, out _));
        Assert.Equal(NonceStatus.Unknown, _nonces.Check(Base64Url.Encode(new byte[32]), now, out _));
        Assert.Equal(NonceStatus.Unknown, _nonces.Check("short", now, out _));
        Assert.Equal(NonceStatus.Unknown, _nonces.Check(null, now, out _));
        Assert.Equal(NonceStatus.Unknown, _nonces.Check(issued + "A", now, out _));
        Assert.Equal(NonceStatus.Unknown, _nonces.Check(issued[..42] + "*", now, out _));
    }

    [Fact]
    public void Nonce_key_file_is_created_private_and_reused()
    {
        using var directory = new Support.TempDirectory();
        string path = Path.Combine(directory.Path, NonceStore.DefaultKeyFileName);
        string issued;
        using (NonceStore first = NonceStore.LoadOrCreate(path, _time))
        {
            issued = first.Issue(TimeSpan.FromMinutes(5));
        }

        using NonceStore reopened = NonceStore.LoadOrCreate(path, _time);
        Assert.Equal(NonceStatus.Valid, reopened.Check(issued, _time.GetUtcNow(), out _));
        Assert.Equal(32, new FileInfo(path).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            Assert.Throws<InvalidOperationException>(() => NonceStore.LoadOrCreate(path, _time));
        }
    }

    [Fact]
    public void Nonce_key_file_of_the_wrong_length_is_refused()
    {
        using var directory = new Support.TempDirectory();
        string path = Path.Combine(directory.Path, NonceStore.DefaultKeyFileName);
        File.WriteAllBytes(path, new byte[16]);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        Assert.Throws<InvalidDataException>(() => NonceStore.LoadOrCreate(path, _time));
    }

    public void Dispose() => _nonces.Dispose();
}

/// <summary>Consumption of nonces in a store's write transaction: once, durable with it, never again after a purge.</summary>
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
        _nonces = NonceStore.CreateEphemeral(_time);
    }

    [EnvironmentFact]
    public void Nonce_is_consumed_once()
    {
        IssuedNonce nonce = _nonces.IssueWithExpiry(TimeSpan.FromMinutes(5));

        Assert.Equal(NonceConsumption.Consumed, Consume(_store, nonce));
        Assert.Equal(NonceConsumption.Replayed, Consume(_store, nonce));
    }

    [EnvironmentFact]
    public void Consumption_rolled_back_with_its_transaction_is_not_a_use()
    {
        IssuedNonce nonce = _nonces.IssueWithExpiry(TimeSpan.FromMinutes(5));
        using (IKeyBrokerTransaction abandoned = _store.BeginWrite())
        {
            Assert.Equal(NonceConsumption.Consumed, abandoned.ConsumeNonce(NonceStore.Hash(nonce.Value), nonce.ExpiresAt, _time.GetUtcNow()));
        }

        Assert.Equal(NonceConsumption.Consumed, Consume(_store, nonce));
    }

    [EnvironmentFact]
    public void Consumption_survives_a_restart()
    {
        IssuedNonce nonce = _nonces.IssueWithExpiry(TimeSpan.FromMinutes(5));
        Assert.Equal(NonceConsumption.Consumed, Consume(_store, nonce));

        using IKeyBrokerStore second = _target.Open();
        Assert.Equal(NonceConsumption.Replayed, Consume(second, nonce));
    }

    [EnvironmentFact]
    public void Expired_nonce_is_not_consumed()
    {
        IssuedNonce nonce = _nonces.IssueWithExpiry(TimeSpan.FromMinutes(5));
        _time.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(NonceConsumption.Expired, Consume(_store, nonce));
    }

    [EnvironmentFact]
    public void Purged_record_cannot_let_a_nonce_be_used_again_even_when_the_clock_steps_back()
    {
        IssuedNonce nonce = _nonces.IssueWithExpiry(TimeSpan.FromMinutes(5));
        Assert.Equal(NonceConsumption.Consumed, Consume(_store, nonce));

        // Far enough ahead that the record is purged, then the clock steps back to before the nonce's expiry.
        _time.Advance(NonceStore.ConsumedRetention + TimeSpan.FromMinutes(6));
        using (IKeyBrokerTransaction purge = _store.BeginWrite())
        {
            purge.PurgeExpired(_time.GetUtcNow());
            purge.Commit();
        }

        _time.Set(nonce.ExpiresAt - TimeSpan.FromMinutes(1));
        Assert.Equal(NonceConsumption.Expired, Consume(_store, nonce));
    }

    [EnvironmentFact]
    public async Task Concurrent_consumers_succeed_exactly_once()
    {
        IssuedNonce nonce = _nonces.IssueWithExpiry(TimeSpan.FromMinutes(5));
        using IKeyBrokerStore second = _target.Open();

        NonceConsumption[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Consume(i % 2 == 0 ? _store : second, nonce))));

        Assert.Single(results, r => r == NonceConsumption.Consumed);
        Assert.All(results.Where(r => r != NonceConsumption.Consumed), r => Assert.Equal(NonceConsumption.Replayed, r));
    }

    public void Dispose()
    {
        _nonces.Dispose();
        _store.Dispose();
        _target.Dispose();
        GC.SuppressFinalize(this);
    }

    private NonceConsumption Consume(IKeyBrokerStore store, IssuedNonce nonce)
    {
        using IKeyBrokerTransaction transaction = store.BeginWrite();
        DateTimeOffset now = _time.GetUtcNow();
        transaction.PurgeExpired(now);
        NonceConsumption result = transaction.ConsumeNonce(NonceStore.Hash(nonce.Value), nonce.ExpiresAt, now);
        transaction.Commit();
        return result;
    }
}

public sealed class SqliteNonceStoreTests() : NonceStoreTests(KeyBrokerStoreKind.Sqlite);

[RequiresEnvironment(StoreTarget.PostgresVariable)]
[Collection(StoreTarget.PostgresCollection)]
public sealed class PostgresNonceStoreTests() : NonceStoreTests(KeyBrokerStoreKind.Postgres);
