namespace Enclave.KeyBroker.Policy;

/// <summary>A release policy's <c>x-enclave-privacy</c>: the most ε, at <see cref="Delta"/>, that the releases of one
/// key (every version: the budget is the dataset's) may spend in total. ε is always recomputed from the key's stored
/// per-order RDP sum (Enclave.Privacy.RdpAccountant), never added up as ε.</summary>
public sealed record PrivacyBudget
{
    /// <summary>The largest <see cref="MaxEpsilon"/> a policy may set.</summary>
    public const double EpsilonLimit = 100;

    /// <summary>The largest <see cref="Delta"/> a policy may set (as for a training plan's δ).</summary>
    public const double DeltaLimit = 0.01;

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxEpsilon"/> is not in (0, 100] or
    /// <paramref name="delta"/> not in (0, 0.01].</exception>
    public PrivacyBudget(double maxEpsilon, double delta)
    {
        if (!IsValidEpsilon(maxEpsilon))
        {
            throw new ArgumentOutOfRangeException(nameof(maxEpsilon), maxEpsilon, "The maximum ε must be in (0, 100].");
        }

        if (!IsValidDelta(delta))
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "δ must be in (0, 0.01].");
        }

        MaxEpsilon = maxEpsilon;
        Delta = delta;
    }

    public double MaxEpsilon { get; }

    /// <summary>The δ at which the key's ε is computed and compared with <see cref="MaxEpsilon"/>.</summary>
    public double Delta { get; }

    internal static bool IsValidEpsilon(double epsilon) => epsilon > 0 && epsilon <= EpsilonLimit;

    internal static bool IsValidDelta(double delta) => delta > 0 && delta <= DeltaLimit;
}
