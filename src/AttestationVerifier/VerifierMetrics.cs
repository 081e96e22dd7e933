// The verifier's instruments (System.Diagnostics.Metrics only; the hosting layer exports them). Names are stable:
// dashboards and alerts use them.
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Enclave.AttestationVerifier.Evidence;

namespace Enclave.AttestationVerifier;

internal static class VerifierMetrics
{
    public const string MeterName = "Enclave.AttestationVerifier";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Attestation requests: kind the evidence format (unsupported for a format this verifier does not
    /// know, so that callers cannot create label values), outcome issued or refused, reason the error of a refusal
    /// (none when a token was issued).</summary>
    private static readonly Counter<long> Verifications = Meter.CreateCounter<long>(
        "enclave.verifier.verifications", unit: "{verification}", description: "Evidence verifications by evidence kind and outcome");

    public static void Verification(EvidenceFormat format, bool supported, AttestationOutcome outcome)
    {
        var tags = new TagList
        {
            { "kind", supported ? format.Value : "unsupported" },
            { "outcome", outcome.Succeeded ? "issued" : "refused" },
            { "reason", outcome.Error?.ToString() ?? "none" },
        };
        Verifications.Add(1, tags);
    }
}
