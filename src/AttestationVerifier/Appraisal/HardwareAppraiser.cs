using System.Security.Cryptography;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.AttestationVerifier.Appraisal;

/// <summary>
/// Appraises hardware evidence that a <see cref="IHardwareVerifier"/> has verified against an
/// <see cref="AppraisalPolicy"/>: debug, TCB status, SVN floors, measurements and signers, and the binding of
/// the caller's runtime data. Secure by default (the default policy forbids debug and accepts only UpToDate).
/// Reports every violation, never only the first. Node enrolment is not checked here; the verifier service
/// adds it.
/// </summary>
public static class HardwareAppraiser
{
    /// <summary>The measurement an allowedMeasurements list applies to, per kind.</summary>
    public static string PrimaryMeasurementName(string kind) => kind switch
    {
        "sgx" => "mr_enclave",
        "tdx" => "mr_td",
        "sev-snp" => "measurement",
        "nitro" => "pcr0",
        _ => "mr_enclave",
    };

    /// <summary>The SVN a minimumSvn floor applies to, per kind (the enclave's or guest's own SVN).</summary>
    public static string PrimarySvnName(string kind) => kind switch
    {
        "sev-snp" => "guest_svn",
        "tdx" => "tee_tcb_svn",
        _ => "isv_svn",
    };

    /// <param name="runtimeData">The runtime data the caller expects the evidence to bind, or null to skip that
    /// check (the report data is then not appraised).</param>
    public static IReadOnlyList<AppraisalViolation> Appraise(HardwareVerificationReport report, AppraisalPolicy policy, ReadOnlySpan<byte> runtimeData, bool checkRuntimeData)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(policy);
        List<AppraisalViolation> violations = [];
        if (!report.Verified)
        {
            string codes = string.Join(", ", report.Errors.Select(e => e.Code).Distinct(StringComparer.Ordinal));
            violations.Add(new(AppraisalViolationCode.NotGenuine, $"the {report.Kind} evidence is not genuine ({codes}); nothing it reports can be relied on"));
        }

        HardwareIdentity? identity = report.Identity;
        if (identity is null)
        {
            return violations;
        }

        if (policy.AllowedFormats is { } formats && !formats.Contains(report.Kind, StringComparer.Ordinal))
        {
            violations.Add(new(AppraisalViolationCode.FormatNotAllowed, $"evidence kind '{report.Kind}' is not allowed by the policy"));
        }

        if (identity.Debug && !policy.AllowDebug)
        {
            violations.Add(new(AppraisalViolationCode.DebugNotAllowed, $"the {report.Kind} TEE is debuggable, which exposes its memory to the host; the policy forbids debug"));
        }

        string tcb = report.TcbStatus ?? "unknown";
        if (!policy.AllowedTcbStatuses.Contains(tcb, StringComparer.Ordinal))
        {
            violations.Add(new(AppraisalViolationCode.TcbStatusNotAllowed, $"TCB status '{tcb}' is not one of [{string.Join(", ", policy.AllowedTcbStatuses)}]"));
        }

        CheckSvns(report.Kind, identity, policy, violations);
        CheckMeasurements(report.Kind, identity, policy, violations);

        if (policy.AllowedSigners is { } signers && (identity.Signer is null || !signers.Contains(identity.Signer, StringComparer.Ordinal)))
        {
            violations.Add(new(AppraisalViolationCode.SignerNotAllowed, $"signer {identity.Signer ?? "(none)"} is not allowed by the policy"));
        }

        if (checkRuntimeData && !ReportDataBinds(identity.ReportData.Span, runtimeData))
        {
            violations.Add(new(AppraisalViolationCode.ReportDataMismatch, $"report data {Convert.ToHexStringLower(identity.ReportData.Span)} is not a SHA-512, SHA-384 or SHA-256 digest (zero padded) of the runtime data, so the runtime data is not bound"));
        }

        return violations;
    }

    /// <summary>
    /// True when <paramref name="reportData"/> is the SHA-512, SHA-384 or SHA-256 digest of the runtime data,
    /// followed only by zero bytes (64-byte report data carrying a SHA-256 digest is Azure Attestation's
    /// convention; SHA-512 is this product's).
    /// </summary>
    public static bool ReportDataBinds(ReadOnlySpan<byte> reportData, ReadOnlySpan<byte> runtimeData)
    {
        Span<byte> digest = stackalloc byte[SHA512.HashSizeInBytes];
        bool bound = false;
        SHA512.HashData(runtimeData, digest);
        bound |= Matches(reportData, digest[..SHA512.HashSizeInBytes]);
        SHA384.HashData(runtimeData, digest);
        bound |= Matches(reportData, digest[..SHA384.HashSizeInBytes]);
        SHA256.HashData(runtimeData, digest);
        bound |= Matches(reportData, digest[..SHA256.HashSizeInBytes]);
        return bound;
    }

    private static bool Matches(ReadOnlySpan<byte> reportData, ReadOnlySpan<byte> digest) =>
        reportData.Length >= digest.Length
        && CryptographicOperations.FixedTimeEquals(reportData[..digest.Length], digest)
        && !reportData[digest.Length..].ContainsAnyExcept((byte)0);

    private static void CheckSvns(string kind, HardwareIdentity identity, AppraisalPolicy policy, List<AppraisalViolation> violations)
    {
        if (policy.MinimumSvn > 0)
        {
            string name = PrimarySvnName(kind);
            if (!identity.Svns.TryGetValue(name, out long svn))
            {
                violations.Add(new(AppraisalViolationCode.SvnTooLow, $"the evidence reports no {name}; the policy requires at least {policy.MinimumSvn}"));
            }
            else if (svn < policy.MinimumSvn)
            {
                violations.Add(new(AppraisalViolationCode.SvnTooLow, $"{name} {svn} is below the minimum {policy.MinimumSvn}"));
            }
        }

        foreach ((string name, int floor) in policy.MinimumSvns ?? new Dictionary<string, int>())
        {
            if (!identity.Svns.TryGetValue(name, out long svn))
            {
                violations.Add(new(AppraisalViolationCode.SvnTooLow, $"the evidence reports no SVN named '{name}'; the policy requires at least {floor}"));
            }
            else if (svn < floor)
            {
                violations.Add(new(AppraisalViolationCode.SvnTooLow, $"{name} {svn} is below the minimum {floor}"));
            }
        }
    }

    private static void CheckMeasurements(string kind, HardwareIdentity identity, AppraisalPolicy policy, List<AppraisalViolation> violations)
    {
        if (policy.AllowedMeasurements is { } allowed)
        {
            string name = PrimaryMeasurementName(kind);
            string? value = identity.Measurements.GetValueOrDefault(name);
            if (value is null || !allowed.Contains(value, StringComparer.Ordinal))
            {
                violations.Add(new(AppraisalViolationCode.MeasurementNotAllowed, $"{name} {value ?? "(none)"} is not allowed by the policy"));
            }
        }

        foreach ((string name, IReadOnlyList<string> values) in policy.Measurements ?? new Dictionary<string, IReadOnlyList<string>>())
        {
            string? value = identity.Measurements.GetValueOrDefault(name);
            if (value is null || !values.Contains(value, StringComparer.Ordinal))
            {
                violations.Add(new(AppraisalViolationCode.MeasurementNotAllowed, $"{name} {value ?? "(none)"} is not allowed by the policy"));
            }
        }
    }
}
