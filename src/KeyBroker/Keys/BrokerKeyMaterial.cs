// Where a broker's shared key material comes from (see README "Shared key material"): the import key owners
// encrypt data keys to, the audit key that signs tree heads and the nonce key. Brokers on one database must be
// given the same material; only the data-directory source creates it, and that one only a single broker uses.
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker.Keys;

/// <summary>The sources of <see cref="BrokerKeyMaterial"/>.</summary>
public enum BrokerKeySource
{
    /// <summary><c>import.key</c>, <c>audit-signing.key</c> and <c>nonce.key</c> in the data directory, created on
    /// first use (the default: one broker, or brokers that share the directory).</summary>
    DataDirectory,

    /// <summary>Configured secret files (e.g. mounted Kubernetes Secrets), never created by the broker.</summary>
    Files,

    /// <summary>Objects in the PKCS#11 token of the master key, created on first use (<see cref="Pkcs11BrokerKeys"/>).</summary>
    Pkcs11,
}

/// <summary>The import key, audit signing key and nonce store of one broker; disposes all three.</summary>
public sealed class BrokerKeyMaterial : IDisposable
{
    public BrokerKeyMaterial(BrokerImportKey importKey, AuditSigningKey auditKey, NonceStore nonces, string description)
    {
        ArgumentNullException.ThrowIfNull(importKey);
        ArgumentNullException.ThrowIfNull(auditKey);
        ArgumentNullException.ThrowIfNull(nonces);
        ImportKey = importKey;
        AuditKey = auditKey;
        Nonces = nonces;
        Description = description;
    }

    public BrokerImportKey ImportKey { get; }

    public AuditSigningKey AuditKey { get; }

    public NonceStore Nonces { get; }

    /// <summary>Where the keys came from, for the startup log.</summary>
    public string Description { get; }

    /// <summary>Opens the material <paramref name="options"/> name (<see cref="KeyBrokerOptions.ResolvedKeySource"/>).</summary>
    /// <param name="masterKey">The broker's master key; the PKCS#11 source needs a <see cref="Pkcs11MasterKey"/>, whose token holds the keys.</param>
    /// <exception cref="InvalidOperationException">The PKCS#11 source without a PKCS#11 master key, or a secret file readable by group or others.</exception>
    /// <exception cref="FileNotFoundException">A configured secret file does not exist.</exception>
    /// <exception cref="InvalidDataException">A key file does not hold the right kind of key.</exception>
    /// <exception cref="MasterKeyException">The token failed or holds unusable objects.</exception>
    public static BrokerKeyMaterial Open(KeyBrokerOptions options, IMasterKey? masterKey)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.ResolvedKeySource switch
        {
            BrokerKeySource.Files => FromFiles(options.ImportKeyFile!, options.AuditSigningKeyFile!, options.NonceKeyFile!, options.Time),
            BrokerKeySource.Pkcs11 => masterKey is Pkcs11MasterKey token
                ? Pkcs11BrokerKeys.Open(token, options.Pkcs11KeyLabelPrefix, options.Time)
                : throw new InvalidOperationException("Broker keys in the PKCS#11 token need the PKCS#11 master key (KeyBrokerOptions.MasterKey)."),
            _ => InDataDirectory(options.DataDirectory, options.Time),
        };
    }

    /// <summary>The keys in <paramref name="directory"/>, created (0600) when absent.</summary>
    public static BrokerKeyMaterial InDataDirectory(string directory, TimeProvider time) => Build(
        () => NonceStore.LoadOrCreate(Path.Combine(directory, NonceStore.DefaultKeyFileName), time),
        () => BrokerImportKey.LoadOrCreate(Path.Combine(directory, BrokerImportKey.DefaultFileName)),
        () => AuditSigningKey.LoadOrCreate(Path.Combine(directory, AuditSigningKey.DefaultFileName)),
        $"data directory {directory}");

    /// <summary>The keys in configured secret files, which must exist: EC P-256 private keys as PEM (PKCS#8 or SEC1)
    /// for the import and audit keys, 32 raw bytes for the nonce key, each readable by its owner only.</summary>
    public static BrokerKeyMaterial FromFiles(string importKeyFile, string auditSigningKeyFile, string nonceKeyFile, TimeProvider time) => Build(
        () => NonceStore.Load(nonceKeyFile, time),
        () => BrokerImportKey.Load(importKeyFile),
        () => AuditSigningKey.Load(auditSigningKeyFile),
        "configured key files");

    private static BrokerKeyMaterial Build(Func<NonceStore> nonces, Func<BrokerImportKey> import, Func<AuditSigningKey> audit, string description)
    {
        NonceStore? n = null;
        BrokerImportKey? i = null;
        try
        {
            n = nonces();
            i = import();
            return new BrokerKeyMaterial(i, audit(), n, description);
        }
        catch
        {
            n?.Dispose();
            i?.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Nonces.Dispose();
        ImportKey.Dispose();
        AuditKey.Dispose();
    }
}
