using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;
using Enclave.KeyBroker.Storage;

namespace Enclave.KeyBroker.Tokens;

/// <summary>A challenge nonce and the instant after which the broker no longer accepts it.</summary>
public sealed record IssuedNonce(string Value, DateTimeOffset ExpiresAt);

/// <summary>Single-use challenge nonces: 32 random bytes, base64url (43 characters). Only their SHA-256
/// is stored. Consumption is one conditional DELETE, so of two concurrent uses exactly one succeeds, and a
/// nonce survives broker restarts until it expires.</summary>
public sealed class NonceStore
{
    public const int NonceBytes = 32;
    public const int EncodedLength = 43;

    private readonly IKeyBrokerStore _store;
    private readonly TimeProvider _time;

    public NonceStore(IKeyBrokerStore store, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _time = time;
    }

    /// <summary>Issues a nonce valid for <paramref name="ttl"/> and returns it (base64url).</summary>
    public string Issue(TimeSpan ttl) => IssueWithExpiry(ttl).Value;

    /// <inheritdoc cref="Issue"/>
    public IssuedNonce IssueWithExpiry(TimeSpan ttl)
    {
        (IssuedNonce issued, DateTimeOffset now) = Draw(ttl);
        using IKeyBrokerTransaction transaction = _store.BeginWrite();
        Record(transaction, issued, now);
        transaction.Commit();
        return issued;
    }

    /// <inheritdoc cref="Issue"/>
    public async Task<IssuedNonce> IssueWithExpiryAsync(TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        (IssuedNonce issued, DateTimeOffset now) = Draw(ttl);
        using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync(cancellationToken).ConfigureAwait(false);
        Record(transaction, issued, now);
        await transaction.CommitAsync().ConfigureAwait(false);
        return issued;
    }

    /// <summary>Consumes the nonce: true exactly once for a nonce this store issued that has not expired.</summary>
    public bool TryConsume(string? nonce)
    {
        if (!IsWellFormed(nonce))
        {
            return false;
        }

        using IKeyBrokerTransaction transaction = _store.BeginWrite();
        bool consumed = transaction.TryConsumeNonce(Hash(nonce!), _time.GetUtcNow());
        transaction.Commit();
        return consumed;
    }

    /// <inheritdoc cref="TryConsume"/>
    public async Task<bool> TryConsumeAsync(string? nonce, CancellationToken cancellationToken = default)
    {
        if (!IsWellFormed(nonce))
        {
            return false;
        }

        using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync(cancellationToken).ConfigureAwait(false);
        bool consumed = transaction.TryConsumeNonce(Hash(nonce!), _time.GetUtcNow());
        await transaction.CommitAsync().ConfigureAwait(false);
        return consumed;
    }

    internal static bool IsWellFormed(string? nonce) =>
        nonce is { Length: EncodedLength } && Base64Url.TryDecode(nonce, out byte[] bytes) && bytes.Length == NonceBytes;

    private (IssuedNonce Issued, DateTimeOffset Now) Draw(TimeSpan ttl)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, TimeSpan.FromDays(1));
        DateTimeOffset now = _time.GetUtcNow();
        return (new IssuedNonce(Base64Url.Encode(RandomNumberGenerator.GetBytes(NonceBytes)), now + ttl), now);
    }

    private static void Record(IKeyBrokerTransaction transaction, IssuedNonce issued, DateTimeOffset now)
    {
        transaction.PurgeExpired(now);
        transaction.InsertNonce(Hash(issued.Value), issued.ExpiresAt);
    }

    private static byte[] Hash(string nonce) => SHA256.HashData(Encoding.ASCII.GetBytes(nonce));
}
