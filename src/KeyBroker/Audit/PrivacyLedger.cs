// Privacy budgets from the audit log alone (docs/formats.md section 9). Every grant of a budgeted key carries
//   "privacy": {"spend": {"samplingRate": q, "noiseMultiplier": σ, "steps": T, "delta": plan δ},
//               "delta": policy δ, "maxEpsilon": E, "epsilonBefore": ε₀, "epsilonAfter": ε₁}
// and the broker stores, per key id, the per-order sum of RdpAccountant.Rdp(q, σ, T) over those grants in log order
// (the grant's audit entry and the new sum are written in one transaction). Replaying the grants in sequence order
// therefore gives the stored vector; on the broker's own platform bit for bit, elsewhere to rounding (the accountant
// is deterministic but its logarithms are the platform's), which is why the ε checks below allow a relative 1e-9.
// Denials (PrivacyBudgetExhausted carries the same member, with the ε the grant would have reached) spend nothing.
using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Storage;
using Enclave.Privacy;

namespace Enclave.KeyBroker.Audit;

/// <summary>The per-key RDP the audit log's grants imply, and what its grants' recorded ε values should have been.</summary>
/// <param name="Spent">Per key id, the RDP spent at each order of <see cref="RdpAccountant.Orders"/>.</param>
/// <param name="Faults">Each grant whose privacy record is malformed or disagrees with the replay, by sequence number.</param>
public sealed record PrivacyLedgerReplay(IReadOnlyDictionary<string, double[]> Spent, IReadOnlyList<string> Faults);

public static class PrivacyLedger
{
    /// <summary>Relative difference allowed between a recorded ε and the replay's (another platform's rounding).</summary>
    public const double Tolerance = 1e-9;

    /// <summary>Replays the grants of <paramref name="entries"/> (in sequence order) that carry a privacy record.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="entries"/> is null.</exception>
    public static PrivacyLedgerReplay Replay(IEnumerable<AuditEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var spent = new Dictionary<string, double[]>(StringComparer.Ordinal);
        var faults = new List<string>();
        foreach (AuditEntry entry in entries)
        {
            if (entry.Kind != nameof(AuditEntryKind.ReleaseGranted))
            {
                continue;
            }

            JsonObject? body;
            try
            {
                body = JsonNode.Parse(entry.Body) as JsonObject;
            }
            catch (JsonException)
            {
                body = null;
            }

            if (body is not null && !body.ContainsKey("privacy"))
            {
                continue;
            }

            string? fault = body is null ? "the body is not a JSON object" : Apply(body, body["privacy"], spent);
            if (fault is not null)
            {
                faults.Add($"entry {entry.Sequence}: {fault}");
            }
        }

        return new PrivacyLedgerReplay(spent, faults);
    }

    /// <summary>The RDP the store holds as spent by key <paramref name="keyId"/> (read in a write transaction that is
    /// rolled back), or null when it spent none.</summary>
    /// <exception cref="InvalidDataException">The stored value is not one non-negative number per order.</exception>
    public static double[]? ReadStored(IKeyBrokerStore store, string keyId)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(keyId);
        using IKeyBrokerTransaction transaction = store.BeginWrite();
        return transaction.GetPrivacyBudget(keyId) is { } stored
            ? Decode(stored) ?? throw new InvalidDataException($"The stored privacy budget of {keyId} is not an RDP vector.")
            : null;
    }

    /// <summary>ε at <paramref name="delta"/> of an RDP vector at <see cref="RdpAccountant.Orders"/>.</summary>
    public static double Epsilon(ReadOnlySpan<double> rdp, double delta) => RdpAccountant.EpsilonFromRdp(rdp, delta).Epsilon;

    /// <summary>float64 little-endian, one per order: the stored form.</summary>
    internal static byte[] Encode(ReadOnlySpan<double> rdp)
    {
        var bytes = new byte[rdp.Length * sizeof(double)];
        for (int i = 0; i < rdp.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * sizeof(double)), rdp[i]);
        }

        return bytes;
    }

    /// <summary>The stored form read back; null unless it holds one non-negative number (or +∞) per order.</summary>
    internal static double[]? Decode(byte[] bytes)
    {
        if (bytes.Length != RdpAccountant.Orders.Length * sizeof(double))
        {
            return null;
        }

        var rdp = new double[RdpAccountant.Orders.Length];
        for (int i = 0; i < rdp.Length; i++)
        {
            rdp[i] = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(i * sizeof(double)));
            if (!(rdp[i] >= 0))
            {
                return null;
            }
        }

        return rdp;
    }

    private static string? Apply(JsonObject body, JsonNode? node, Dictionary<string, double[]> spent)
    {
        if (body["key"] is not JsonValue keyValue || !keyValue.TryGetValue(out string? key)
            || node is not JsonObject privacy || privacy["spend"] is not JsonObject spend
            || !TryNumber(spend, "samplingRate", out double q) || !TryNumber(spend, "noiseMultiplier", out double sigma)
            || !TryNumber(spend, "steps", out double stepsNumber) || stepsNumber != Math.Floor(stepsNumber) || stepsNumber < 1
            || !TryNumber(privacy, "delta", out double delta) || !(delta > 0 && delta < 1)
            || !TryNumber(privacy, "maxEpsilon", out double maxEpsilon)
            || !TryNumber(privacy, "epsilonBefore", out double before) || !TryNumber(privacy, "epsilonAfter", out double after))
        {
            return "the privacy record is malformed";
        }

        if (!(q > 0 && q <= 1) || !(sigma > 0))
        {
            return "the recorded spend is outside the accountant's range";
        }

        if (!spent.TryGetValue(key!, out double[]? rdp))
        {
            spent[key!] = rdp = new double[RdpAccountant.Orders.Length];
        }

        double replayedBefore = Epsilon(rdp, delta);
        RdpAccountant.AddRdp(q, sigma, (long)stepsNumber, rdp);
        double replayedAfter = Epsilon(rdp, delta);
        if (!Close(before, replayedBefore) || !Close(after, replayedAfter))
        {
            return $"recorded ε {before} -> {after}, replayed {replayedBefore} -> {replayedAfter}";
        }

        return after <= maxEpsilon && replayedAfter <= maxEpsilon * (1 + Tolerance)
            ? null
            : $"the grant took ε to {after}, above its maximum {maxEpsilon}";
    }

    private static bool Close(double recorded, double replayed) =>
        Math.Abs(recorded - replayed) <= Tolerance * Math.Max(1, Math.Abs(replayed));

    private static bool TryNumber(JsonObject json, string name, out double value)
    {
        value = 0;
        return json[name] is JsonValue number && number.GetValueKind() == JsonValueKind.Number
            && number.TryGetValue(out value) && double.IsFinite(value);
    }
}
