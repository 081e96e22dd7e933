// The key broker's instruments (System.Diagnostics.Metrics only; the hosting layer exports them). Names are
// stable: dashboards and alerts use them.
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Enclave.KeyBroker;

internal static class KeyBrokerMetrics
{
    public const string MeterName = "Enclave.KeyBroker";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Release decisions: outcome granted, denied (recorded in the audit log) or throttled (a bad token
    /// from a caller over its rate, summarised in the log later); reason the <see cref="ReasonCode"/> of a denial,
    /// Granted for a grant (as the audit log writes them).</summary>
    private static readonly Counter<long> Releases = Meter.CreateCounter<long>(
        "enclave.keybroker.releases", unit: "{release}", description: "Key release decisions by outcome and reason code");

    public static void Release(string outcome, ReasonCode? reason)
    {
        var tags = new TagList
        {
            { "outcome", outcome },
            { "reason", reason?.ToString() ?? "Granted" },
        };
        Releases.Add(1, tags);
    }
}
