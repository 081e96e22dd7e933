// Claim names with special meaning to release-policy evaluation. Names follow the Azure Attestation
// claim sets (x-ms-*, legacy un-prefixed SGX names, the TDX EAT profile's tdx_* names) plus this
// product's x-enclave-* claims (docs/formats.md section 4). Matching uses the last segment of a dotted
// claim path, so "x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement" is a measurement too.
namespace Enclave.KeyBroker.Policy;

public static class KnownClaims
{
    public const string Issuer = "iss";
    public const string Region = "x-enclave-region";
    public const string TcbStatus = "x-enclave-tcb-status";
    public const string Simulated = "x-enclave-simulated";
    public const string AttestationType = "x-ms-attestation-type";
    public const string SgxMrEnclave = "x-ms-sgx-mrenclave";
    public const string SgxMrSigner = "x-ms-sgx-mrsigner";
    public const string SgxIsDebuggable = "x-ms-sgx-is-debuggable";
    public const string SgxSvn = "x-ms-sgx-svn";
    public const string Runtime = "x-ms-runtime";
    public const string Nonce = "nonce";
    public const string TokenId = "jti";

    /// <summary>Claims holding hex measurements. For these, and only these, <c>equals</c> and
    /// <c>notEquals</c> compare case-insensitively when both the claim and the policy value consist of
    /// hex digits only; any other string (including a measurement value with a non-hex character) is
    /// compared ordinally. A failed condition on one of them is reported as
    /// <see cref="ReasonCode.MeasurementNotAllowed"/>.</summary>
    public static IReadOnlySet<string> MeasurementClaims { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "x-ms-sgx-mrenclave",
        "x-ms-sgx-mrsigner",
        "sgx-mrenclave",
        "sgx-mrsigner",
        "x-ms-sevsnpvm-launchmeasurement",
        "x-ms-sevsnpvm-hostdata",
        "x-ms-sevsnpvm-idkeydigest",
        "tdx_mrtd",
        "tdx_mrconfigid",
        "tdx_mrowner",
        "tdx_mrownerconfig",
        "tdx_rtmr0",
        "tdx_rtmr1",
        "tdx_rtmr2",
        "tdx_rtmr3",
    };

    /// <summary>The reason code a failed condition on <paramref name="claimPath"/> maps to.</summary>
    public static ReasonCode ReasonFor(string claimPath)
    {
        ArgumentNullException.ThrowIfNull(claimPath);
        string last = LastSegment(claimPath);
        if (MeasurementClaims.Contains(last))
        {
            return ReasonCode.MeasurementNotAllowed;
        }

        if (last.EndsWith("is-debuggable", StringComparison.Ordinal))
        {
            return ReasonCode.DebugNotAllowed;
        }

        if (last == Region)
        {
            return ReasonCode.RegionNotAllowed;
        }

        if (last == AttestationType || last == "tee")
        {
            return ReasonCode.AttestationTypeNotAllowed;
        }

        if (last == TcbStatus || last.EndsWith("tcbstatus", StringComparison.Ordinal)
            || last.EndsWith("tcb-status", StringComparison.Ordinal))
        {
            return ReasonCode.TcbNotAllowed;
        }

        if (last.EndsWith("svn", StringComparison.Ordinal))
        {
            return ReasonCode.SvnTooLow;
        }

        return ReasonCode.PolicyNotSatisfied;
    }

    internal static bool IsMeasurement(string claimPath) => MeasurementClaims.Contains(LastSegment(claimPath));

    private static string LastSegment(string claimPath)
    {
        int dot = claimPath.LastIndexOf('.');
        return dot < 0 ? claimPath : claimPath[(dot + 1)..];
    }
}
