using System.Security.Cryptography;
using Enclave.AttestationVerifier.Nodes;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.AttestationVerifier.Appraisal;

/// <summary>
/// Appraises verified evidence and its runtime data against an <see cref="AppraisalPolicy"/> and the node
/// registry. Reports every violation, never only the first.
/// </summary>
public sealed class Appraiser
{
    private readonly INodeDirectory _nodes;

    public Appraiser(INodeDirectory nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        _nodes = nodes;
    }

    public AppraisalResult Appraise(VerifiedEvidence evidence, ReadOnlySpan<byte> runtimeData, AppraisalPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        ArgumentNullException.ThrowIfNull(policy);
        List<AppraisalViolation> violations = [];

        if (policy.AllowedFormats is { } formats && !formats.Contains(evidence.Format.Value, StringComparer.Ordinal))
        {
            violations.Add(new(AppraisalViolationCode.FormatNotAllowed, $"evidence format '{evidence.Format}' is not allowed by the policy"));
        }

        if (evidence.IsDebug && !policy.AllowDebug)
        {
            violations.Add(new(AppraisalViolationCode.DebugNotAllowed, "the enclave runs in debug mode, which exposes its memory; the policy forbids debug enclaves"));
        }

        if (!policy.AllowedTcbStatuses.Contains(evidence.TcbStatus, StringComparer.Ordinal))
        {
            violations.Add(new(AppraisalViolationCode.TcbStatusNotAllowed, $"TCB status '{evidence.TcbStatus}' is not one of [{string.Join(", ", policy.AllowedTcbStatuses)}]"));
        }

        if (evidence.Svn < policy.MinimumSvn)
        {
            violations.Add(new(AppraisalViolationCode.SvnTooLow, $"SVN {evidence.Svn} is below the minimum {policy.MinimumSvn}"));
        }

        if (policy.AllowedMeasurements is { } measurements && !measurements.Contains(evidence.MeasurementHex, StringComparer.Ordinal))
        {
            violations.Add(new(AppraisalViolationCode.MeasurementNotAllowed, $"measurement {evidence.MeasurementHex} is not allowed by the policy"));
        }

        if (policy.AllowedSigners is { } signers && !signers.Contains(evidence.SignerHex, StringComparer.Ordinal))
        {
            violations.Add(new(AppraisalViolationCode.SignerNotAllowed, $"signer {evidence.SignerHex} is not allowed by the policy"));
        }

        if (!ReportDataBinds(evidence.ReportData.Span, runtimeData))
        {
            violations.Add(new(AppraisalViolationCode.ReportDataMismatch, "report data is not SHA-512 of the runtime data, so the runtime data is not bound to the evidence"));
        }

        if (!RuntimeData.TryParse(runtimeData, out RuntimeData? parsed, out string runtimeError))
        {
            violations.Add(new(AppraisalViolationCode.RuntimeDataInvalid, runtimeError));
        }

        NodeEnrollment? enrollment = _nodes.Find(evidence.PlatformId);
        if (enrollment is null)
        {
            violations.Add(new(AppraisalViolationCode.PlatformNotEnrolled, $"platform {evidence.PlatformId} is not enrolled in any region"));
        }

        return new AppraisalResult(evidence, violations, enrollment?.Region, parsed);
    }

    private static bool ReportDataBinds(ReadOnlySpan<byte> reportData, ReadOnlySpan<byte> runtimeData)
    {
        if (reportData.Length != SHA512.HashSizeInBytes || runtimeData.Length > RuntimeData.MaxLength)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[SHA512.HashSizeInBytes];
        SHA512.HashData(runtimeData, expected);
        return CryptographicOperations.FixedTimeEquals(expected, reportData);
    }
}
