// The key broker without transport: construction (store, master key, broker keys, token validator, audit log),
// nonces and disposal. The rest of the class is in the files beside this one:
//   KeyBrokerService.Release.cs        attested release (the release order, the re-decision, throttling)
//   KeyBrokerService.OwnerRequests.cs  owner requests (register, rotate, update policy, enable/disable, delete)
//   KeyBrokerService.Records.cs        node enrolments and round manifests
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Policy;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker;

public sealed partial class KeyBrokerService : IDisposable
{
    /// <summary>Owner requests must be signed within this interval of the broker's clock.</summary>
    public static readonly TimeSpan OwnerRequestWindow = TimeSpan.FromMinutes(5);

    private const int MaxOwnerKeyLength = 8 * 1024;
    private const int MaxAuditTextLength = 4096;
    private const int MaxAuditFieldLength = 128;
    private const string NotOwnedDetail = "the signer owns no key of this name";
    private static readonly string[] s_ownerAlgorithms = ["ES256"];

    private readonly KeyBrokerOptions _options;
    private readonly IKeyBrokerStore _store;
    private readonly bool _ownsStore;
    private readonly IDisposable? _ownedMasterKey;
    private readonly BrokerImportKey _importKey;
    private readonly AuditSigningKey _auditKey;
    private readonly NonceStore _nonces;
    private readonly BrokerKeyMaterial _keyMaterial;
    private readonly TokenValidator _tokens;
    private readonly KeyStore _keys;
    private readonly AuditLog _audit;
    private readonly PolicyCache _policies = new();
    private readonly UnauthenticatedReleaseLimiter _unauthenticated;
    private readonly ITimer _throttleFlush;
    private readonly SemaphoreSlim _throttleGate = new(1, 1);
    private int _disposed;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, KeyVersionRecord> _latestKeys = new(StringComparer.Ordinal);

    /// <summary>Key names whose latest record is kept in memory at most (a starting point only; see the file header).</summary>
    private const int MaxCachedKeys = 4096;

    /// <param name="options">Data directory, trusted issuers, audience, mode and clock.</param>
    /// <param name="verifierKeys">Where the trusted verifiers' JWKS come from.</param>
    /// <param name="masterKey">The master key; null is allowed only in simulated mode, where a
    /// <see cref="FileMasterKey"/> in the data directory is used.</param>
    /// <param name="store">The store; null opens the one the options name (<see cref="KeyBrokerOptions.OpenStore"/>).</param>
    /// <exception cref="InvalidOperationException">No master key outside simulated mode, or a secret file
    /// is readable by group or others.</exception>
    public KeyBrokerService(
        KeyBrokerOptions options,
        IVerifierKeySource verifierKeys,
        IMasterKey? masterKey = null,
        IKeyBrokerStore? store = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(verifierKeys);
        options.Validate();
        if (masterKey is null && !options.SimulatedMode)
        {
            throw new InvalidOperationException("A master key is required outside simulated mode.");
        }

        _options = options;
        CreatePrivateDirectory(options.DataDirectory);
        _ownsStore = store is null;
        _store = store ?? options.OpenStore();
        try
        {
            _store.Initialize();
            if (masterKey is null)
            {
                var fileKey = options.MasterKeyFile is { } configured
                    ? FileMasterKey.Load(configured, options.SimulatedMode)
                    : new FileMasterKey(Path.Combine(options.DataDirectory, FileMasterKey.DefaultFileName), options.SimulatedMode);
                _ownedMasterKey = fileKey;
                masterKey = fileKey;
            }

            _keyMaterial = BrokerKeyMaterial.Open(options, masterKey);
            _nonces = _keyMaterial.Nonces;
            _importKey = _keyMaterial.ImportKey;
            _auditKey = _keyMaterial.AuditKey;
        }
        catch
        {
            _ownedMasterKey?.Dispose();
            if (_ownsStore)
            {
                _store.Dispose();
            }

            throw;
        }

        _tokens = new TokenValidator(
            new TokenValidatorOptions
            {
                TrustedIssuers = options.TrustedIssuers,
                Audience = options.Audience,
                ClockSkew = options.ClockSkew,
                MaxLifetime = options.MaxTokenLifetime,
                Time = options.Time,
            },
            verifierKeys,
            _nonces);
        _keys = new KeyStore(_store, masterKey, options.Time);
        _audit = new AuditLog(_store, _auditKey, options.Time);
        _unauthenticated = new UnauthenticatedReleaseLimiter(options.UnauthenticatedReleaseAllowance, options.UnauthenticatedReleaseInterval);

        // Summaries of ended intervals are also written by the next unauthenticated release; the timer writes
        // them when no further one comes.
        _throttleFlush = options.Time.CreateTimer(
            _ => _ = FlushThrottledAsync(all: false), null, options.UnauthenticatedReleaseInterval, options.UnauthenticatedReleaseInterval);
    }

    /// <summary>The public key data owners encrypt data keys to; its kid is the required <c>aud</c> of owner requests.</summary>
    public Jwk ImportKey => _importKey.PublicJwk;

    /// <summary>The public key that verifies the audit log's signed head.</summary>
    public Jwk AuditPublicKey => _auditKey.PublicJwk;

    public AuditLog Audit => _audit;

    /// <summary>Where the import, audit and nonce keys came from (for the startup log).</summary>
    public string KeyMaterialDescription => _keyMaterial.Description;

    /// <summary>Issues a single-use challenge nonce for an enclave's attestation.</summary>
    public IssuedNonce IssueNonce() => _nonces.IssueWithExpiry(_options.NonceLifetime);

    /// <summary>As <see cref="IssueNonce"/> (issuing writes nothing, so this never waits).</summary>
    public Task<IssuedNonce> IssueNonceAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(_nonces.IssueWithExpiry(_options.NonceLifetime));

    /// <summary>Verifies the audit log (see <see cref="AuditLog.Verify()"/>).</summary>
    public AuditVerificationResult VerifyAudit() => _audit.Verify();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _throttleFlush.Dispose();
        FlushThrottledAsync(all: true).GetAwaiter().GetResult();
        _nonces.Dispose();
        _importKey.Dispose();
        _auditKey.Dispose();
        _ownedMasterKey?.Dispose();
        if (_ownsStore)
        {
            _store.Dispose();
        }
    }


    private static string? Clip(string? text, int max) =>
        text is null ? null : text.Length > max ? text[..max] + "..." : text;

    private static void CreatePrivateDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

}
