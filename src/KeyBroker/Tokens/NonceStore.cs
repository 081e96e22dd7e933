// Challenge nonces: issued without a write, consumed in the same transaction as the audit record of the
// release they were used for.
//
// A nonce is 32 bytes, base64url (43 characters):
//   u64 expiry (Unix ms, big-endian) | 8 random bytes | first 16 bytes of
//   HMAC-SHA256(nonce key, "enclave-broker-nonce-v1" | 0x00 | expiry | random)
// The nonce key (32 random bytes) lives in the broker's data directory (0600), in a configured secret file, or
// in a PKCS#11 token (HMAC computed there, INonceMac), so nonces survive restarts and every broker given the
// same key accepts them. A nonce whose tag does not verify was not issued
// by this broker; one past its expiry is refused; authentic and fresh, it is consumed by inserting its
// SHA-256 into the store's consumed-nonce table inside the release's write transaction, where a second use
// finds the row and is a replay. So a GetNonce costs no database write, a release exactly one insert, and
// the consumption is durable exactly when the grant or denial it belongs to is.
//
// Rows are purged only a margin after their nonce expired (ConsumedRetention), and the write transaction
// refuses a nonce whose expiry is not after the latest purge instant it has seen: a replay cannot outlive
// the row that records the first use, even when a clock steps back or another broker's clock runs ahead
// by less than the margin.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;

namespace Enclave.KeyBroker.Tokens;

/// <summary>A challenge nonce and the instant after which the broker no longer accepts it.</summary>
public sealed record IssuedNonce(string Value, DateTimeOffset ExpiresAt);

/// <summary>What checking a nonce's authenticity and freshness found.</summary>
public enum NonceStatus
{
    /// <summary>Issued by this broker and not expired (it may still have been used: that is the store's call).</summary>
    Valid,

    /// <summary>Not a nonce this broker issued: wrong length, not base64url, or its tag does not verify.</summary>
    Unknown,

    /// <summary>Issued by this broker, but its expiry has passed.</summary>
    Expired,
}

/// <summary>What consuming a nonce inside a write transaction found.</summary>
public enum NonceConsumption
{
    /// <summary>First use: recorded, durable with the transaction.</summary>
    Consumed,

    /// <summary>A use of this nonce is already recorded.</summary>
    Replayed,

    /// <summary>Its expiry is not after the instant the transaction checks against.</summary>
    Expired,
}

/// <summary>HMAC-SHA256 with a nonce key that is kept elsewhere (a PKCS#11 token).</summary>
public interface INonceMac
{
    /// <summary>Writes HMAC-SHA256(key, <paramref name="input"/>) (32 bytes) to <paramref name="mac"/>.</summary>
    void ComputeHmacSha256(ReadOnlySpan<byte> input, Span<byte> mac);
}

/// <summary>Issues and authenticates single-use challenge nonces (see the file header for the format).</summary>
public sealed class NonceStore : IDisposable
{
    public const int NonceBytes = 32;
    public const int EncodedLength = 43;
    public const string DefaultKeyFileName = "nonce.key";

    /// <summary>How long after its nonce expired a consumed-nonce row is kept.</summary>
    public static readonly TimeSpan ConsumedRetention = TimeSpan.FromMinutes(10);

    private const int KeySize = 32;
    private const int TagSize = 16;
    private const int RandomSize = 8;
    private static readonly byte[] s_domain = Encoding.ASCII.GetBytes("enclave-broker-nonce-v1\0");

    private readonly byte[] _key;
    private readonly INonceMac? _mac;
    private readonly TimeProvider _time;

    private NonceStore(byte[] key, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        if (key.Length != KeySize)
        {
            CryptographicOperations.ZeroMemory(key);
            throw new InvalidDataException($"A nonce key is {KeySize} bytes, not {key.Length}.");
        }

        _key = key;
        _time = time;
    }

    private NonceStore(INonceMac mac, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(mac);
        ArgumentNullException.ThrowIfNull(time);
        _key = [];
        _mac = mac;
        _time = time;
    }

    /// <summary>Loads the nonce key from a configured secret file (32 raw bytes, 0600), which must exist: brokers
    /// given the same file accept each other's nonces.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidOperationException">The key file is readable by group or others.</exception>
    /// <exception cref="InvalidDataException">The key file does not hold exactly 32 bytes.</exception>
    public static NonceStore Load(string path, TimeProvider time) => new(SecretFile.ReadExisting(path), time);

    /// <summary>A nonce store whose HMAC is computed by <paramref name="mac"/> (a key in a PKCS#11 token).</summary>
    public static NonceStore Create(INonceMac mac, TimeProvider time) => new(mac, time);

    /// <summary>Loads the nonce key from <paramref name="path"/>, creating it (0600) when absent.</summary>
    /// <exception cref="InvalidOperationException">The key file is readable by group or others.</exception>
    /// <exception cref="InvalidDataException">The key file does not hold exactly 32 bytes.</exception>
    public static NonceStore LoadOrCreate(string path, TimeProvider time) =>
        new(SecretFile.ReadOrCreate(path, () => RandomNumberGenerator.GetBytes(KeySize)), time);

    /// <summary>A nonce store whose key lives only in memory (tests, tools).</summary>
    public static NonceStore CreateEphemeral(TimeProvider time) => new(RandomNumberGenerator.GetBytes(KeySize), time);

    /// <summary>Issues a nonce valid for <paramref name="ttl"/> and returns it (base64url).</summary>
    public string Issue(TimeSpan ttl) => IssueWithExpiry(ttl).Value;

    /// <inheritdoc cref="Issue"/>
    public IssuedNonce IssueWithExpiry(TimeSpan ttl)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, TimeSpan.FromDays(1));
        DateTimeOffset expires = DateTimeOffset.FromUnixTimeMilliseconds((_time.GetUtcNow() + ttl).ToUnixTimeMilliseconds());
        Span<byte> nonce = stackalloc byte[NonceBytes];
        BinaryPrimitives.WriteInt64BigEndian(nonce, expires.ToUnixTimeMilliseconds());
        RandomNumberGenerator.Fill(nonce.Slice(8, RandomSize));
        ComputeTag(nonce[..(8 + RandomSize)], nonce[(8 + RandomSize)..]);
        return new IssuedNonce(Base64Url.Encode(nonce), expires);
    }

    /// <summary>Checks that this broker issued <paramref name="nonce"/> and that it has not expired at
    /// <paramref name="now"/>; returns its expiry when it was issued here.</summary>
    public NonceStatus Check(string? nonce, DateTimeOffset now, out DateTimeOffset expiresAt)
    {
        expiresAt = default;
        Span<byte> bytes = stackalloc byte[NonceBytes];
        if (nonce is not { Length: EncodedLength }
            || !System.Buffers.Text.Base64Url.IsValid(nonce)
            || System.Buffers.Text.Base64Url.DecodeFromChars(nonce, bytes) != NonceBytes)
        {
            return NonceStatus.Unknown;
        }

        Span<byte> tag = stackalloc byte[TagSize];
        ComputeTag(bytes[..(8 + RandomSize)], tag);
        if (!CryptographicOperations.FixedTimeEquals(tag, bytes[(8 + RandomSize)..]))
        {
            return NonceStatus.Unknown;
        }

        long expiresMs = BinaryPrimitives.ReadInt64BigEndian(bytes);
        if (expiresMs <= 0 || expiresMs > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            return NonceStatus.Unknown;
        }

        expiresAt = DateTimeOffset.FromUnixTimeMilliseconds(expiresMs);
        return expiresAt > now ? NonceStatus.Valid : NonceStatus.Expired;
    }

    /// <summary>The value a store keeps for a consumed nonce (SHA-256 of its text).</summary>
    public static byte[] Hash(string nonce)
    {
        ArgumentNullException.ThrowIfNull(nonce);
        return SHA256.HashData(Encoding.ASCII.GetBytes(nonce));
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_key);

    private void ComputeTag(ReadOnlySpan<byte> body, Span<byte> destination)
    {
        Span<byte> input = stackalloc byte[s_domain.Length + 8 + RandomSize];
        s_domain.CopyTo(input);
        body.CopyTo(input[s_domain.Length..]);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (_mac is null)
        {
            HMACSHA256.HashData(_key, input, mac);
        }
        else
        {
            _mac.ComputeHmacSha256(input, mac);
        }

        mac[..TagSize].CopyTo(destination);
    }
}
