// The key broker without transport: nonces, owner requests and attested release.
//
// Release order: validate the token (issuer, signature, lifetime, audience, nonce authentic and fresh) ->
// refuse simulated tokens outside simulated mode -> pick the enclave's encryption key -> look up the key ->
// evaluate its policy -> unwrap -> encrypt to the enclave -> in one write transaction check that the key is
// still as the decision saw it, consume the nonce and append the grant to the audit log -> return once that
// is durable. A nonce that is already consumed turns the outcome into a NonceReplayed denial. Every denial is
// audited too, in the same way.
//
// The key record a decision starts from comes from a per-process cache (or a read of committed state), so it
// may be older than the store: another broker on the same database, or an owner request committed meanwhile,
// may have disabled, rotated, re-scoped or deleted the key. The write transaction therefore reads the key again
// under the writer lock (owner requests change keys only under that lock) and, when it differs, decides again
// against that record inside the transaction. So every recorded decision, grant or denial, was made against
// the key as it stood when the record was committed, and the audit log never shows a release after the change
// that forbade it. Nothing about
// keys is consulted before the token is accepted, and every denial after that point has the same wire
// reason (ReleaseOutcome.CoarseDenial), so callers cannot probe which keys exist; the precise reason is
// only in the audit log and in ReleaseOutcome.Reason.
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Policy;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker;

public sealed class KeyBrokerService : IDisposable
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

    /// <summary>Releases the latest version of <paramref name="keyName"/> to the enclave that
    /// <paramref name="attestationToken"/> describes, or denies. Both outcomes are in the audit log when
    /// this returns.</summary>
    /// <exception cref="KeyBrokerStoreException">The store could not make the audit record durable; nothing was released.</exception>
    /// <exception cref="System.Data.Common.DbException">The store failed; nothing was released.</exception>
    public Task<ReleaseOutcome> ReleaseAsync(string keyName, string attestationToken, CancellationToken cancellationToken = default) =>
        ReleaseAsync(new ReleaseKeyOptions(keyName, attestationToken), cancellationToken);

    /// <summary>Releases as <see cref="ReleaseAsync(string, string, CancellationToken)"/>, with the optional
    /// version, expected nonce and algorithm of <paramref name="options"/>.</summary>
    /// <exception cref="KeyBrokerStoreException">The store could not make the audit record durable; nothing was released.</exception>
    /// <exception cref="System.Data.Common.DbException">The store failed; nothing was released.</exception>
    public async Task<ReleaseOutcome> ReleaseAsync(ReleaseKeyOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        string keyName = options.KeyName;
        string attestationToken = options.AttestationToken;

        TokenValidationResult validation = await _tokens.ValidateAsync(attestationToken, cancellationToken).ConfigureAwait(false);
        if (!validation.IsValid)
        {
            await FlushThrottledAsync(all: false).ConfigureAwait(false);
            if (!_unauthenticated.TryAdmit(options.Caller, validation.Reason!.Value, _options.Time.GetUtcNow()))
            {
                KeyBrokerMetrics.Release("throttled", validation.Reason.Value);
                return ReleaseOutcome.Throttled(validation.Reason.Value, validation.Detail!);
            }

            return await RecordAsync(keyName, null, Decision.Deny(validation.Reason!.Value, tokenStage: true, validation.Detail),
                null, UnverifiedTokenId(attestationToken), cancellationToken).ConfigureAwait(false);
        }

        ValidatedToken token = validation.Token!;
        Decision decision = Decide(options, token, CachedLatestKey);
        return await RecordAsync(keyName, token, decision, current => Decide(options, token, _ => current), null, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>What the release would do with an accepted token, before its nonce is consumed, given how to find
    /// the latest record of a key; a decision that looked at the key remembers the record it saw.</summary>
    private Decision Decide(ReleaseKeyOptions options, ValidatedToken token, Func<string, KeyVersionRecord?> latestKey)
    {
        string keyName = options.KeyName;
        if (token.IsSimulated && !_options.SimulatedMode)
        {
            return Decision.Deny(ReasonCode.AttestationTypeNotAllowed, tokenStage: true,
                "the token derives from simulated evidence and this broker is not in simulated mode");
        }

        if (options.Nonce is not null && !string.Equals(options.Nonce, token.Nonce, StringComparison.Ordinal))
        {
            return Decision.Deny(ReasonCode.NonceMismatch, tokenStage: true, "the request's nonce is not the token's nonce");
        }

        if (!EnclaveEncryptionKey.TryGet(token.Claims, out Jwk? encryptionKey, out string keyProblem))
        {
            return Decision.Deny(ReasonCode.NoEncryptionKey, tokenStage: true, keyProblem);
        }

        if (options.Algorithm is not null
            && !string.Equals(options.Algorithm, encryptionKey!.IsEc ? Jwe.EcdhEsA256Kw : Jwe.RsaOaep256, StringComparison.Ordinal))
        {
            return Decision.Deny(ReasonCode.NoEncryptionKey, tokenStage: true,
                $"the token's first encryption key is {encryptionKey.Kty}, which cannot be used with \"{Clip(options.Algorithm, MaxAuditFieldLength)}\"");
        }

        if (!KeyId.IsValid(keyName))
        {
            return Decision.Deny(ReasonCode.KeyNotFound, tokenStage: false, "the requested key id is not {owner thumbprint}/{name}");
        }

        KeyVersionRecord? record = latestKey(keyName);
        return DecideForKey(options, token, encryptionKey!, record).Against(record);
    }

    private Decision DecideForKey(ReleaseKeyOptions options, ValidatedToken token, Jwk encryptionKey, KeyVersionRecord? record)
    {
        if (record is null)
        {
            return Decision.Deny(ReasonCode.KeyNotFound, tokenStage: false, "no key of this name exists");
        }

        if (KeyStore.IsDeleted(record))
        {
            return Decision.Deny(ReasonCode.KeyNotFound, tokenStage: false, "the key was deleted by its owner", record.Version);
        }

        if (options.Version is int version && version != record.Version)
        {
            return Decision.Deny(ReasonCode.KeyNotFound, tokenStage: false,
                $"version {version} was requested; only the latest version ({record.Version}) is released", record.Version);
        }

        if (!record.Enabled)
        {
            return Decision.Deny(ReasonCode.KeyDisabled, tokenStage: false, "the latest version of the key is disabled", record.Version);
        }

        if (!_policies.TryGet(record.PolicyJson, out ReleasePolicy? policy, out PolicyFormatException? policyError))
        {
            return Decision.Deny(ReasonCode.PolicyNotSatisfied, tokenStage: false,
                $"the stored policy does not load: {policyError!.Message}", record.Version);
        }

        PolicyEvaluation evaluation = policy!.Evaluate(token.ClaimsElement);
        if (!evaluation.IsSatisfied)
        {
            return Decision.Deny(evaluation.Reason!.Value, tokenStage: false, string.Join("; ", evaluation.Failures), record.Version, evaluation.Failures);
        }

        byte[] dataKey = new byte[KeyStore.DataKeySize];
        try
        {
            if (!_keys.TryUnwrap(record, dataKey))
            {
                return Decision.Deny(ReasonCode.KeyIntegrityFailure, tokenStage: false,
                    "the stored key record does not authenticate under the master key", record.Version);
            }

            try
            {
                return Decision.Grant(record.Version, Jwe.Encrypt(dataKey, encryptionKey), encryptionKey.ComputeThumbprint());
            }
            catch (JoseException e)
            {
                return Decision.Deny(ReasonCode.NoEncryptionKey, tokenStage: false,
                    $"the enclave's encryption key cannot be used ({e.Code}: {e.Message})", record.Version);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    /// <summary>Consumes the token's nonce and records the outcome in one write transaction, durable before this
    /// returns. A decision made against a key record that is no longer the key's latest state is made again, with
    /// <paramref name="redecide"/>, against the record the transaction reads. A nonce already used (or expired by
    /// now) turns any decision into that denial, and the prepared JWE is dropped: only the first use of a nonce is
    /// ever granted.</summary>
    private async Task<ReleaseOutcome> RecordAsync(
        string keyName, ValidatedToken? token, Decision decision, Func<KeyVersionRecord?, Decision>? redecide,
        string? unverifiedTokenId, CancellationToken cancellationToken)
    {
        byte[]? nonceHash = token is null ? null : NonceStore.Hash(token.Nonce);
        Func<IKeyBrokerTransaction, (Decision, AuditEntry, Decision?)> record = transaction =>
        {
            Decision final = decision;
            Decision? again = null;
            if (decision.KeyConsulted)
            {
                KeyVersionRecord? current = transaction.GetLatestKey(keyName);
                if (!SameKeyState(current, decision.Key))
                {
                    final = again = redecide!(current);
                }
            }

            DateTimeOffset now = _options.Time.GetUtcNow();
            transaction.PurgeExpired(now);
            if (token is not null)
            {
                switch (transaction.ConsumeNonce(nonceHash!, token.NonceExpiresAt, now))
                {
                    case NonceConsumption.Replayed:
                        final = Decision.Deny(ReasonCode.NonceReplayed, tokenStage: true, "a release already used this token's nonce");
                        break;
                    case NonceConsumption.Expired:
                        final = Decision.Deny(ReasonCode.NonceExpired, tokenStage: true, "the nonce expired before the release was recorded");
                        break;
                }
            }

            JsonObject body = ReleaseBody(keyName, final.Version, token,
                final.Granted ? "Granted" : final.Reason.ToString(), final.Granted ? "policy satisfied" : final.Detail);
            if (final.Granted)
            {
                body["encryptionKey"] = final.EncryptionKeyThumbprint;
            }
            else if (token is null && unverifiedTokenId is not null)
            {
                body["unverifiedJti"] = Clip(unverifiedTokenId, MaxAuditFieldLength);
            }

            return (final, _audit.Append(transaction, final.Granted ? AuditEntryKind.ReleaseGranted : AuditEntryKind.ReleaseDenied, body), again);
        };
        // A denial is recorded even when the caller has gone away: it happened. A grant the caller no longer
        // waits for may be abandoned before anything is written; then no key left the broker.
        CancellationToken abandon = decision.Granted ? cancellationToken : CancellationToken.None;
        (Decision recorded, AuditEntry entry, Decision? redecided) = await (nonceHash is null
            ? _store.WriteAsync(record, abandon)
            : _store.WriteAsync(record, nonceHash, abandon)).ConfigureAwait(false);
        if (redecided is not null)
        {
            RememberLatestKey(keyName, redecided.Key);
        }

        KeyBrokerMetrics.Release(recorded.Granted ? "granted" : "denied", recorded.Granted ? null : recorded.Reason);
        return recorded.Granted
            ? ReleaseOutcome.Granted(recorded.WrappedKey!, recorded.Version!.Value, entry.Id, entry.Sequence)
            : ReleaseOutcome.Denied(recorded.Reason, recorded.TokenStage, recorded.Detail, entry.Id, entry.Sequence, recorded.Failures);
    }

    /// <summary>Registers a data key (a new version when the name is already the signer's).</summary>
    /// <param name="ownerJwk">The owner's EC P-256 public JWK (JSON).</param>
    /// <param name="signedRequest">Compact JWS of an owner request with <c>op</c> "register".</param>
    public OwnerRequestOutcome RegisterKey(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.Register);

    /// <summary>Replaces the release policy of the latest version of an owned key (<c>op</c> "updatePolicy").</summary>
    public OwnerRequestOutcome UpdatePolicy(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.UpdatePolicy);

    /// <summary>Enables or disables the latest version of an owned key (<c>op</c> "setEnabled").</summary>
    public OwnerRequestOutcome SetKeyEnabled(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.SetEnabled);

    /// <summary>Adds a version with a new data key (<c>op</c> "rotate"); releases use it from now on.</summary>
    public OwnerRequestOutcome RotateKey(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.Rotate);

    /// <summary>Deletes an owned key (<c>op</c> "delete"): no version is released again.</summary>
    public OwnerRequestOutcome DeleteKey(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.Delete);

    /// <summary>Handles any owner request; with <paramref name="expected"/> the request's <c>op</c> must match.</summary>
    public OwnerRequestOutcome HandleOwnerRequest(string ownerJwk, string signedRequest, OwnerOperation? expected = null) =>
        HandleOwnerRequestAsync(ownerJwk, signedRequest, expected).GetAwaiter().GetResult();

    /// <summary>As <see cref="HandleOwnerRequest"/>, waiting for the store without holding a thread.</summary>
    public async Task<OwnerRequestOutcome> HandleOwnerRequestAsync(
        string ownerJwk, string signedRequest, OwnerOperation? expected = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(ownerJwk) || ownerJwk.Length > MaxOwnerKeyLength)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.UnsupportedOwnerKey, "the owner key is missing or too long");
        }

        if (string.IsNullOrEmpty(signedRequest) || signedRequest.Length > Jws.MaxTokenLength)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Malformed, "the signed request is missing or longer than 64 KiB");
        }

        Jwk owner;
        try
        {
            owner = Jwk.Parse(ownerJwk);
        }
        catch (JoseException e)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.UnsupportedOwnerKey, $"the owner key is not a public JWK ({e.Message})");
        }

        if (!owner.IsEc || owner.Crv != "P-256")
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.UnsupportedOwnerKey, "the owner key must be an EC P-256 key (ES256)");
        }

        string thumbprint = owner.ComputeThumbprint();
        JwsVerified verified;
        try
        {
            verified = Jws.Verify(signedRequest, kid => kid == thumbprint ? owner : null, s_ownerAlgorithms);
        }
        catch (JoseException e)
        {
            OwnerRequestError error = e.Code == JoseError.Malformed ? OwnerRequestError.Malformed : OwnerRequestError.BadSignature;
            return OwnerRequestOutcome.Failure(error, $"the request signature is not valid for the owner key ({e.Code}: {e.Message})");
        }

        if (verified.Header["typ"]?.GetValue<string>() != OwnerRequest.JwsType)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Malformed, $"the request's typ must be \"{OwnerRequest.JwsType}\"");
        }

        OwnerRequest request;
        try
        {
            request = OwnerRequest.Parse(verified.Payload);
        }
        catch (FormatException e)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Malformed, e.Message);
        }

        if (expected is OwnerOperation operation && request.Operation != operation)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Malformed, $"the request is a {request.Operation} request, not {operation}");
        }

        if (!string.Equals(request.Audience, _importKey.KeyId, StringComparison.Ordinal))
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.WrongAudience, "the request's aud is not this broker's import key id");
        }

        DateTimeOffset now = _options.Time.GetUtcNow();
        if ((now - request.IssuedAt).Duration() > OwnerRequestWindow)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Stale, "the request's iat is more than five minutes from the broker's clock");
        }

        if (!KeyName.IsValid(request.Name))
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidKeyName, "a key name is 1 to 63 characters of [a-z0-9-], starting with a letter or digit");
        }

        ReleasePolicy? policy = null;
        if (request.PolicyJson is not null)
        {
            if (!ReleasePolicy.TryParse(request.PolicyJson, out policy, out PolicyFormatException? policyError))
            {
                return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidPolicy, policyError!.Message);
            }

            if (!_options.TrustedIssuers.Any(policy!.NamesAuthority))
            {
                return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidPolicy,
                    "no authority of the policy is a verifier this broker trusts, so the key could never be released");
            }
        }

        byte[]? dataKey = null;
        try
        {
            if (request.EncryptedKey is not null)
            {
                try
                {
                    dataKey = _importKey.Decrypt(request.EncryptedKey);
                }
                catch (JoseException e)
                {
                    return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidDataKey, $"the data key does not decrypt with the import key ({e.Code})");
                }

                if (dataKey.Length != KeyStore.DataKeySize)
                {
                    return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidDataKey, "the data key must be exactly 32 bytes");
                }
            }

            return await ApplyAsync(request, thumbprint, policy, dataKey, now, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (dataKey is not null)
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }
        }
    }

    /// <summary>Records a node enrolment signed by a configured security-team key in the audit log, each
    /// enrolment once and a platform's enrolments only in increasing seq (see <see cref="NodeEnrollmentRecord.Record"/>).</summary>
    /// <exception cref="FormatException">The enrolment does not verify or is malformed; nothing is recorded.</exception>
    /// <exception cref="EnrollmentRefusedException">The enrolment is a replay or older than one recorded; nothing is recorded.</exception>
    public AuditEntry RecordNodeEnrollment(string signedEnrollment)
    {
        JsonObject body = NodeEnrollmentRecord.CreateBody(signedEnrollment, _options.EnrollmentKeys);
        using IKeyBrokerTransaction transaction = _store.BeginWrite();
        AuditEntry entry = NodeEnrollmentRecord.Record(transaction, _audit, body);
        transaction.Commit();
        return entry;
    }

    /// <summary>As <see cref="RecordNodeEnrollment"/>, waiting for the store without holding a thread.</summary>
    /// <exception cref="FormatException">The enrolment does not verify or is malformed; nothing is recorded.</exception>
    /// <exception cref="EnrollmentRefusedException">The enrolment is a replay or older than one recorded; nothing is recorded.</exception>
    public Task<AuditEntry> RecordNodeEnrollmentAsync(string signedEnrollment, CancellationToken cancellationToken = default)
    {
        JsonObject body = NodeEnrollmentRecord.CreateBody(signedEnrollment, _options.EnrollmentKeys);
        return _store.WriteAsync(transaction => NodeEnrollmentRecord.Record(transaction, _audit, body), cancellationToken);
    }

    /// <summary>Records a coordinator's verified round manifest in the audit log, once per coordinator and round id:
    /// the round id is kept with the owner-request ids (never purged), in the same transaction as the entry.</summary>
    /// <returns>The audit entry, or null when a manifest for this coordinator and round is already recorded.</returns>
    public async Task<AuditEntry?> RecordRoundManifestAsync(
        string coordinatorKid, string roundId, JsonObject manifest, string signedManifest, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(coordinatorKid);
        ArgumentException.ThrowIfNullOrEmpty(roundId);
        ArgumentNullException.ThrowIfNull(manifest);
        var body = new JsonObject
        {
            ["coordinatorKey"] = coordinatorKid,
            ["manifest"] = manifest,
            ["signedManifest"] = signedManifest,
        };
        using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync(cancellationToken).ConfigureAwait(false);
        if (!transaction.TryRecordOwnerRequest($"round-manifest:{coordinatorKid}:{roundId}", DateTimeOffset.MaxValue.AddYears(-1)))
        {
            return null;
        }

        AuditEntry entry = _audit.Append(transaction, AuditEntryKind.RoundManifest, body);
        await transaction.CommitAsync().ConfigureAwait(false);
        return entry;
    }

    /// <summary>Writes one ReleasesThrottled entry per caller whose throttled interval has ended (every one with
    /// <paramref name="all"/>). A write that fails keeps nothing back: the count is lost, never a release.</summary>
    private async Task FlushThrottledAsync(bool all)
    {
        IReadOnlyList<ThrottleSummary> ended = _unauthenticated.TakeEnded(_options.Time.GetUtcNow(), all);
        if (ended.Count == 0)
        {
            return;
        }

        await _throttleGate.WaitAsync().ConfigureAwait(false);
        try
        {
            foreach (ThrottleSummary summary in ended)
            {
                var reasons = new JsonObject();
                foreach ((ReasonCode reason, long count) in summary.Reasons.OrderBy(r => r.Key.ToString(), StringComparer.Ordinal))
                {
                    reasons[reason.ToString()] = count;
                }

                await _audit.AppendAsync(AuditEntryKind.ReleasesThrottled, new JsonObject
                {
                    ["caller"] = Clip(summary.Caller, MaxAuditFieldLength),
                    ["from"] = summary.From.ToUnixTimeSeconds(),
                    ["to"] = summary.To.ToUnixTimeSeconds(),
                    ["refused"] = summary.Refused,
                    ["reasons"] = reasons,
                }, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is KeyBrokerStoreException or System.Data.Common.DbException or ObjectDisposedException or InvalidOperationException)
        {
            // Nothing was released by the throttled calls; the next audited event still chains the log.
        }
        finally
        {
            _throttleGate.Release();
        }
    }

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

    private async Task<OwnerRequestOutcome> ApplyAsync(
        OwnerRequest request, string owner, ReleasePolicy? policy, byte[]? dataKey, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync(cancellationToken).ConfigureAwait(false);
        transaction.PurgeExpired(now);
        if (!transaction.TryRecordOwnerRequest($"{owner}:{request.RequestId}", request.IssuedAt + OwnerRequestWindow + TimeSpan.FromMinutes(1)))
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Replayed, "this request id was already used");
        }

        // The id is composed from the signer's key, so an owner only ever reaches its own keys: the same short
        // name of two owners is two keys.
        string keyId = KeyId.Compose(owner, request.Name);
        KeyVersionRecord? latest = transaction.GetLatestKey(keyId);
        bool owned = latest is not null && string.Equals(latest.OwnerThumbprint, owner, StringComparison.Ordinal);
        if (latest is not null && !owned)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.KeyIntegrityFailure, "the stored key record names another owner than its id");
        }

        if (request.Operation != OwnerOperation.Register && (!owned || KeyStore.IsDeleted(latest!)))
        {
            // The same answer for a missing key, a deleted key and another owner's key.
            return OwnerRequestOutcome.Failure(OwnerRequestError.NotOwner, NotOwnedDetail);
        }

        KeyVersionRecord result;
        AuditEntryKind kind;
        switch (request.Operation)
        {
            case OwnerOperation.Register:
                result = _keys.AddVersion(transaction, keyId, (latest?.Version ?? 0) + 1, owner, dataKey, policy!.Json);
                kind = AuditEntryKind.KeyRegistered;
                break;
            case OwnerOperation.Rotate:
                result = _keys.AddVersion(transaction, keyId, latest!.Version + 1, owner, dataKey, policy?.Json ?? latest.PolicyJson);
                kind = AuditEntryKind.KeyVersionAdded;
                break;
            case OwnerOperation.Delete:
                result = _keys.Delete(transaction, latest!);
                kind = AuditEntryKind.KeyDeleted;
                break;
            case OwnerOperation.UpdatePolicy:
            case OwnerOperation.SetEnabled:
                KeyVersionRecord? replaced = request.Operation == OwnerOperation.UpdatePolicy
                    ? _keys.Replace(transaction, latest!, policy!.Json, latest!.Enabled)
                    : _keys.Replace(transaction, latest!, latest!.PolicyJson, request.Enabled!.Value);
                if (replaced is null)
                {
                    return OwnerRequestOutcome.Failure(OwnerRequestError.KeyIntegrityFailure, "the stored key record does not authenticate under the master key");
                }

                result = replaced;
                kind = request.Operation == OwnerOperation.UpdatePolicy ? AuditEntryKind.PolicyUpdated : AuditEntryKind.KeyStateChanged;
                break;
            default:
                throw new InvalidOperationException("Unknown owner operation.");
        }

        var body = new JsonObject
        {
            ["key"] = result.Name,
            ["version"] = result.Version,
            ["owner"] = owner,
            ["operation"] = request.Operation.ToString(),
            ["requestId"] = request.RequestId,
            ["policySha256"] = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(result.PolicyJson))),
            ["enabled"] = result.Enabled,
        };
        AuditEntry entry = _audit.Append(transaction, kind, body);
        await transaction.CommitAsync().ConfigureAwait(false);
        RememberLatestKey(result.Name, result);
        return OwnerRequestOutcome.Success(result.Name, result.Version, entry.Id, $"{kind} {result.Name} version {result.Version}");
    }

    /// <summary>The latest record of a key as this process last saw it, read from committed state when unknown.</summary>
    private KeyVersionRecord? CachedLatestKey(string name)
    {
        if (_latestKeys.TryGetValue(name, out KeyVersionRecord? known))
        {
            return known;
        }

        KeyVersionRecord? read = _keys.GetLatest(name);
        RememberLatestKey(name, read);
        return read;
    }

    private void RememberLatestKey(string name, KeyVersionRecord? record)
    {
        if (record is null)
        {
            _latestKeys.TryRemove(name, out _);
            return;
        }

        if (_latestKeys.Count >= MaxCachedKeys && !_latestKeys.ContainsKey(name))
        {
            _latestKeys.Clear();
        }

        _latestKeys[name] = record;
    }

    /// <summary>Whether two reads of a key's latest record describe the same state (both absent, or the same version
    /// with the same owner, wrapped key, policy and enabled flag).</summary>
    internal static bool SameKeyState(KeyVersionRecord? a, KeyVersionRecord? b) =>
        a is null || b is null
            ? a is null && b is null
            : a.Version == b.Version
                && a.Enabled == b.Enabled
                && a.CreatedAt == b.CreatedAt
                && string.Equals(a.Name, b.Name, StringComparison.Ordinal)
                && string.Equals(a.OwnerThumbprint, b.OwnerThumbprint, StringComparison.Ordinal)
                && string.Equals(a.PolicyJson, b.PolicyJson, StringComparison.Ordinal)
                && a.WrappedKey.AsSpan().SequenceEqual(b.WrappedKey);

    private static JsonObject ReleaseBody(string keyName, int? version, ValidatedToken? token, string reason, string detail) => new()
    {
        ["key"] = Clip(keyName, MaxAuditFieldLength),
        ["version"] = version,
        ["jti"] = Clip(token?.TokenId, MaxAuditFieldLength),
        ["issuer"] = Clip(token?.Issuer, MaxAuditFieldLength),
        ["region"] = Clip(token?.Region, MaxAuditFieldLength),
        ["measurement"] = Clip(token?.Measurement, MaxAuditFieldLength),
        ["attestationType"] = Clip(token?.AttestationType, MaxAuditFieldLength),
        ["reason"] = reason,
        ["detail"] = Clip(detail, MaxAuditTextLength),
    };

    private static string? UnverifiedTokenId(string token)
    {
        try
        {
            return Jwt.ReadUnverifiedClaims(token)[KnownClaims.TokenId] is JsonValue value
                && value.GetValueKind() == System.Text.Json.JsonValueKind.String
                ? value.GetValue<string>()
                : null;
        }
        catch (JoseException)
        {
            return null;
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

    /// <summary>A release decided but not yet recorded: a grant with its JWE, or a denial with its reason.</summary>
    private sealed class Decision
    {
        private Decision(bool granted, int? version, string? wrappedKey, string? encryptionKeyThumbprint,
            ReasonCode reason, bool tokenStage, string detail, IReadOnlyList<PolicyFailure>? failures)
        {
            Granted = granted;
            Version = version;
            WrappedKey = wrappedKey;
            EncryptionKeyThumbprint = encryptionKeyThumbprint;
            Reason = reason;
            TokenStage = tokenStage;
            Detail = detail;
            Failures = failures;
        }

        public bool Granted { get; }

        public int? Version { get; }

        public string? WrappedKey { get; }

        public string? EncryptionKeyThumbprint { get; }

        public ReasonCode Reason { get; }

        public bool TokenStage { get; }

        public string Detail { get; }

        public IReadOnlyList<PolicyFailure>? Failures { get; }

        /// <summary>True when the decision depended on the key's latest record (<see cref="Key"/>, null when there was none).</summary>
        public bool KeyConsulted { get; private set; }

        public KeyVersionRecord? Key { get; private set; }

        /// <summary>Marks this decision as made against <paramref name="record"/>.</summary>
        public Decision Against(KeyVersionRecord? record)
        {
            KeyConsulted = true;
            Key = record;
            return this;
        }

        public static Decision Grant(int version, string wrappedKey, string encryptionKeyThumbprint) =>
            new(true, version, wrappedKey, encryptionKeyThumbprint, default, false, "policy satisfied", null);

        public static Decision Deny(
            ReasonCode reason, bool tokenStage, string detail, int? version = null, IReadOnlyList<PolicyFailure>? failures = null) =>
            new(false, version, null, null, reason, tokenStage, detail, failures);
    }
}
