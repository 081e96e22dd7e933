// What a round under a training plan with record-level DP spends of each dataset's privacy budget, as the token says
// in x-ms-runtime.privacy (docs/formats.md section 3): {"samplingRate": q, "noiseMultiplier": σ, "steps": T, "delta": δ},
// exactly these members, in the ranges of a training plan's privacy (section 14): q in (0, 1], σ in (0, 1000],
// T an integer in 1..1,000,000, δ in (0, 0.01]. The enclave's measured code writes it, so it is what the round does.
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Policy;
using Enclave.Privacy;

namespace Enclave.KeyBroker.Tokens;

internal sealed class RoundPrivacy
{
    public const string Member = "privacy";

    private const int MaxCachedSpends = 256;
    private static readonly string[] s_members = ["samplingRate", "noiseMultiplier", "steps", "delta"];

    // RDP vectors of recent (q, σ, T): a federation's rounds repeat one plan's values, and a vector costs up to a few
    // milliseconds. Entries are never changed once added.
    private static readonly ConcurrentDictionary<(double, double, long), double[]> s_rdp = new();

    private double[]? _rdp;

    private RoundPrivacy(double samplingRate, double noiseMultiplier, long steps, double delta)
    {
        SamplingRate = samplingRate;
        NoiseMultiplier = noiseMultiplier;
        Steps = steps;
        Delta = delta;
    }

    public double SamplingRate { get; }

    public double NoiseMultiplier { get; }

    public long Steps { get; }

    /// <summary>The plan's δ, at which the enclave reports ε; the budget is kept at the policy's δ instead.</summary>
    public double Delta { get; }

    /// <summary>The round's RDP at each order of <see cref="RdpAccountant.Orders"/>. Shared: never modify it.</summary>
    public double[] Rdp => _rdp ??= s_rdp.TryGetValue((SamplingRate, NoiseMultiplier, Steps), out double[]? known) ? known : Compute();

    /// <summary>Reads <c>x-ms-runtime.privacy</c>; false, with what is wrong, when it is absent or malformed.</summary>
    public static bool TryRead(JsonObject claims, out RoundPrivacy? spend, out string problem)
    {
        spend = null;
        if (!claims.TryGetPropertyValue(KnownClaims.Runtime, out JsonNode? runtime) || runtime is not JsonObject runtimeObject
            || !runtimeObject.TryGetPropertyValue(Member, out JsonNode? node) || node is null)
        {
            problem = "the token has no x-ms-runtime.privacy: the round does not train with differential privacy";
            return false;
        }

        if (node is not JsonObject privacy || privacy.Count != s_members.Length || !s_members.All(privacy.ContainsKey))
        {
            problem = "x-ms-runtime.privacy must be an object of exactly samplingRate, noiseMultiplier, steps and delta";
            return false;
        }

        if (!TryNumber(privacy, "samplingRate", out double q) || !(q > 0 && q <= 1)
            || !TryNumber(privacy, "noiseMultiplier", out double sigma) || !(sigma > 0 && sigma <= 1000)
            || !TryNumber(privacy, "delta", out double delta) || !PrivacyBudget.IsValidDelta(delta)
            || privacy["steps"] is not JsonValue stepsValue || stepsValue.GetValueKind() != JsonValueKind.Number
            || !stepsValue.TryGetValue(out long steps) || steps < 1 || steps > TrainingPlan.MaxStepsPerRound)
        {
            problem = "x-ms-runtime.privacy is out of range (samplingRate in (0, 1], noiseMultiplier in (0, 1000], "
                + $"steps an integer in 1..{TrainingPlan.MaxStepsPerRound}, delta in (0, 0.01])";
            return false;
        }

        spend = new RoundPrivacy(q, sigma, steps, delta);
        if (!spend.Rdp.All(v => v >= 0))
        {
            spend = null;
            problem = "x-ms-runtime.privacy gives no RDP value at some order (the accountant returned NaN)";
            return false;
        }

        problem = "";
        return true;
    }

    /// <summary>The spend as the audit log records it.</summary>
    public JsonObject ToJson() => new()
    {
        ["samplingRate"] = SamplingRate,
        ["noiseMultiplier"] = NoiseMultiplier,
        ["steps"] = Steps,
        ["delta"] = Delta,
    };

    private double[] Compute()
    {
        double[] rdp = RdpAccountant.Rdp(SamplingRate, NoiseMultiplier, Steps);
        if (s_rdp.Count >= MaxCachedSpends)
        {
            s_rdp.Clear();
        }

        return s_rdp.GetOrAdd((SamplingRate, NoiseMultiplier, Steps), rdp);
    }

    private static bool TryNumber(JsonObject json, string name, out double value)
    {
        value = 0;
        return json[name] is JsonValue number && number.GetValueKind() == JsonValueKind.Number
            && number.TryGetValue(out value) && double.IsFinite(value);
    }
}
