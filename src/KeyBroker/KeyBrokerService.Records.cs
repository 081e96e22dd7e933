// Records that are only audited: node enrolments and coordinators' round manifests.
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
}
