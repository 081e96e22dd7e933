using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker;

public sealed class KeyBrokerOptions
{
    /// <summary>Directory of the database, the import key, the audit signing key and (simulated mode)
    /// the file master key. Created (0700) if absent.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Issuer URLs of the attestation verifiers whose tokens are accepted.</summary>
    public required IReadOnlyList<string> TrustedIssuers { get; init; }

    /// <summary>The required token <c>aud</c>; null disables the check.</summary>
    public string? Audience { get; init; } = TokenValidatorOptions.DefaultAudience;

    /// <summary>Simulated mode: a file master key is allowed, and tokens from simulated evidence are
    /// accepted (outside simulated mode they are denied with AttestationTypeNotAllowed).</summary>
    public bool SimulatedMode { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>How long an issued nonce stays valid.</summary>
    public TimeSpan NonceLifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Tolerance for token times; at most five minutes.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest accepted token lifetime.</summary>
    public TimeSpan MaxTokenLifetime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Public keys of the security team whose signed node enrolments the broker records in its
    /// audit log (as relayed by the verifier or the enrolling tool).</summary>
    public IReadOnlyList<Crypto.Jwk> EnrollmentKeys { get; init; } = [];

    /// <summary>Pinned verifier signing keys, trusted for every issuer in <see cref="TrustedIssuers"/>; nothing is
    /// fetched. Used by <see cref="Transport.BrokerServer"/> when it is not given a key source; exclusive with
    /// <see cref="VerifierKeyThumbprints"/>.</summary>
    public Crypto.JwkSet? PinnedVerifierKeys { get; init; }

    /// <summary>RFC 7638 base64url thumbprints of the verifier signing keys to trust: the JWKS is fetched from
    /// <c>{issuer}/certs</c> over https only and every key whose computed thumbprint is not listed is ignored.</summary>
    public IReadOnlyList<string> VerifierKeyThumbprints { get; init; } = [];

    /// <summary>Development only: with <see cref="VerifierKeyThumbprints"/>, an http:// issuer is fetched from when
    /// its host is loopback. Any other http issuer is refused even then.</summary>
    public bool AllowHttpVerifierOnLoopback { get; init; }

    /// <summary>Releases whose token does not validate that each caller (IP address) may have audited one by one per
    /// <see cref="UnauthenticatedReleaseInterval"/>; the rest are refused (RateLimited) and counted in one entry.</summary>
    public int UnauthenticatedReleaseAllowance { get; init; } = 5;

    public TimeSpan UnauthenticatedReleaseInterval { get; init; } = TimeSpan.FromMinutes(1);


    /// <summary>The PKCS#11 master key; null means the file master key, allowed only in simulated mode.
    /// Used by <see cref="Transport.BrokerServer"/>; a <see cref="KeyBrokerService"/> is given its master key.</summary>
    public Keys.Pkcs11MasterKeyOptions? MasterKey { get; init; }

    /// <summary>Where the import, audit signing and nonce keys come from; null: <see cref="Keys.BrokerKeySource.Files"/>
    /// when key files are configured, else <see cref="Keys.BrokerKeySource.DataDirectory"/>. Brokers sharing a
    /// PostgreSQL store must share these keys: configure the same files, or <see cref="Keys.BrokerKeySource.Pkcs11"/>
    /// (the master key's token) for each of them.</summary>
    public Keys.BrokerKeySource? KeySource { get; init; }

    /// <summary>The configured import key (EC P-256 private key, PEM, 0600); with the two other files, all or none.</summary>
    public string? ImportKeyFile { get; init; }

    /// <summary>The configured audit signing key (EC P-256 private key, PEM, 0600).</summary>
    public string? AuditSigningKeyFile { get; init; }

    /// <summary>The configured nonce key (32 raw bytes, 0600).</summary>
    public string? NonceKeyFile { get; init; }

    /// <summary>Simulated mode only: the file master key (32 raw bytes, 0600, never created) instead of
    /// <c>master.key</c> in the data directory, so that simulated brokers on one database can share it.</summary>
    public string? MasterKeyFile { get; init; }

    /// <summary>With <see cref="Keys.BrokerKeySource.Pkcs11"/>: the label prefix of the token objects
    /// (<c>{prefix}-import</c>, <c>{prefix}-audit</c>, <c>{prefix}-nonce</c>).</summary>
    public string Pkcs11KeyLabelPrefix { get; init; } = Keys.Pkcs11BrokerKeys.DefaultLabelPrefix;

    /// <summary><see cref="KeySource"/>, or what its absence means.</summary>
    public Keys.BrokerKeySource ResolvedKeySource => KeySource
        ?? (ImportKeyFile is not null || AuditSigningKeyFile is not null || NonceKeyFile is not null
            ? Keys.BrokerKeySource.Files
            : Keys.BrokerKeySource.DataDirectory);

    /// <summary>Which store holds nonces, keys and the audit log: SQLite (embedded, the default) or PostgreSQL
    /// (for several broker instances on one database).</summary>
    public KeyBrokerStoreKind Store { get; init; } = KeyBrokerStoreKind.Sqlite;

    /// <summary>Store connection string. For SQLite, null means the file <c>keybroker.db</c> in
    /// <see cref="DataDirectory"/>; for PostgreSQL it is required (an Npgsql connection string).</summary>
    public string? ConnectionString { get; init; }

    /// <summary>Opens the store the options name (not yet initialised).</summary>
    public IKeyBrokerStore OpenStore() => Store switch
    {
        KeyBrokerStoreKind.Sqlite => new SqliteKeyBrokerStore(ConnectionString ?? SqliteKeyBrokerStore.ConnectionStringFor(DataDirectory)),
        KeyBrokerStoreKind.Postgres => new PostgresKeyBrokerStore(ConnectionString
            ?? throw new InvalidOperationException("The PostgreSQL store needs a connection string (KeyBrokerOptions.ConnectionString).")),
        _ => throw new InvalidOperationException($"Unknown store kind {Store}."),
    };

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(DataDirectory);
        if (TrustedIssuers is null || TrustedIssuers.Count == 0 || TrustedIssuers.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("At least one trusted issuer is required, and none may be blank.", nameof(TrustedIssuers));
        }

        ArgumentNullException.ThrowIfNull(Time);
        if (Store == KeyBrokerStoreKind.Postgres && string.IsNullOrWhiteSpace(ConnectionString))
        {
            throw new ArgumentException("The PostgreSQL store needs a connection string.", nameof(ConnectionString));
        }

        if (UnauthenticatedReleaseAllowance < 0 || UnauthenticatedReleaseInterval <= TimeSpan.Zero || UnauthenticatedReleaseInterval > TimeSpan.FromDays(1))
        {
            throw new ArgumentOutOfRangeException(nameof(UnauthenticatedReleaseInterval), "The unauthenticated release allowance must be at least 0 and its interval between 0 and 1 day.");
        }

        bool anyFile = ImportKeyFile is not null || AuditSigningKeyFile is not null || NonceKeyFile is not null;
        switch (ResolvedKeySource)
        {
            case Keys.BrokerKeySource.Files when string.IsNullOrWhiteSpace(ImportKeyFile) || string.IsNullOrWhiteSpace(AuditSigningKeyFile) || string.IsNullOrWhiteSpace(NonceKeyFile):
                throw new ArgumentException("Configured broker keys need all three files: the import key, the audit signing key and the nonce key.", nameof(ImportKeyFile));
            case Keys.BrokerKeySource.Pkcs11 when MasterKey is null:
                throw new ArgumentException("Broker keys in the PKCS#11 token need the PKCS#11 master key.", nameof(KeySource));
            case Keys.BrokerKeySource.Pkcs11 when string.IsNullOrWhiteSpace(Pkcs11KeyLabelPrefix):
                throw new ArgumentException("The PKCS#11 broker key label prefix is blank.", nameof(Pkcs11KeyLabelPrefix));
            case not Keys.BrokerKeySource.Files when anyFile:
                throw new ArgumentException($"Key files are configured but the broker keys come from {ResolvedKeySource}.", nameof(KeySource));
        }

        if (MasterKeyFile is not null && (!SimulatedMode || MasterKey is not null))
        {
            throw new ArgumentException("A master key file is allowed only in simulated mode and without a PKCS#11 master key.", nameof(MasterKeyFile));
        }

        if (NonceLifetime <= TimeSpan.Zero || NonceLifetime > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(NonceLifetime), NonceLifetime, "The nonce lifetime must be between 0 and 1 hour.");
        }
    }
}

/// <summary>The store implementations.</summary>
public enum KeyBrokerStoreKind
{
    /// <summary>An embedded SQLite database in the data directory (WAL, synchronous=FULL).</summary>
    Sqlite,

    /// <summary>A PostgreSQL database shared by broker instances.</summary>
    Postgres,
}
