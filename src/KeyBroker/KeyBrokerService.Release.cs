// Attested release: the path every ReleaseKey call takes.
//
// Release order: validate the token (issuer, signature, lifetime, audience, nonce authentic and fresh) ->
// refuse simulated tokens outside simulated mode -> pick the enclave's encryption key -> look up the key ->
// evaluate its policy (a budgeted key also needs the round's privacy spend) -> unwrap -> encrypt to the
// enclave -> in one write transaction check that the key is still as the decision saw it, consume the nonce,
// charge a budgeted key's privacy budget (KeyBrokerService.Privacy.cs) and append the grant to the audit log ->
// return once that is durable. A nonce that is already consumed turns the outcome into a NonceReplayed denial.
// Every denial is audited too, in the same way.
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

public sealed partial class KeyBrokerService
{
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

        if (RequirePrivacy(policy, token, record.Version, out RoundPrivacy? spend) is { } privacyDenial)
        {
            return privacyDenial;
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
                return Decision.Grant(record.Version, Jwe.Encrypt(dataKey, encryptionKey), encryptionKey.ComputeThumbprint())
                    .Charging(policy.PrivacyBudget, spend);
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

            JsonObject? privacy = null;
            if (final.Granted && final.Budget is not null)
            {
                final = ChargeBudget(transaction, keyName, final, out privacy);
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

            if (privacy is not null)
            {
                body["privacy"] = privacy;
            }

            return (final, _audit.Append(transaction, final.Granted ? AuditEntryKind.ReleaseGranted : AuditEntryKind.ReleaseDenied, body), again);
        };
        // A denial is recorded even when the caller has gone away: it happened. A grant the caller no longer
        // waits for may be abandoned before anything is written; then no key left the broker.
        CancellationToken abandon = decision.Granted ? cancellationToken : CancellationToken.None;
        (Decision recorded, AuditEntry entry, Decision? redecided) = await _store.WriteAsync(record, abandon).ConfigureAwait(false);
        if (redecided is not null)
        {
            RememberLatestKey(keyName, redecided.Key);
        }

        KeyBrokerMetrics.Release(recorded.Granted ? "granted" : "denied", recorded.Granted ? null : recorded.Reason);
        return recorded.Granted
            ? ReleaseOutcome.Granted(recorded.WrappedKey!, recorded.Version!.Value, entry.Id, entry.Sequence)
            : ReleaseOutcome.Denied(recorded.Reason, recorded.TokenStage, recorded.Detail, entry.Id, entry.Sequence, recorded.Failures);
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

        /// <summary>A grant of a budgeted key: the budget and what the round spends (charged when it is recorded).</summary>
        public PrivacyBudget? Budget { get; private set; }

        public RoundPrivacy? Spend { get; private set; }

        public Decision Charging(PrivacyBudget? budget, RoundPrivacy? spend)
        {
            (Budget, Spend) = (budget, spend);
            return this;
        }

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
