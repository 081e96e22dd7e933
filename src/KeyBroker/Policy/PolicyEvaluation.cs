namespace Enclave.KeyBroker.Policy;

/// <summary>One condition of a release policy that the token's claims did not satisfy.</summary>
/// <param name="Reason">The stable reason code the condition maps to.</param>
/// <param name="Path">JSONPath of the condition inside the policy document.</param>
/// <param name="Claim">The claim the condition tests; <c>iss</c> for an authority mismatch.</param>
/// <param name="Message">What was expected and what the token carried.</param>
public sealed record PolicyFailure(ReasonCode Reason, string Path, string Claim, string Message)
{
    public override string ToString() => $"{Reason} at {Path}: {Message}";
}

/// <summary>The outcome of evaluating a release policy: a decision plus every failed condition.</summary>
public sealed class PolicyEvaluation
{
    internal PolicyEvaluation(bool isSatisfied, IReadOnlyList<PolicyFailure> failures)
    {
        IsSatisfied = isSatisfied;
        Failures = failures;
    }

    public bool IsSatisfied { get; }

    /// <summary>Empty when <see cref="IsSatisfied"/>. Otherwise: the region check first, then the failed
    /// conditions under authorities that name the token's issuer, then the authorities that do not.</summary>
    public IReadOnlyList<PolicyFailure> Failures { get; }

    /// <summary>The reason of the first failure, or null when the policy is satisfied.</summary>
    public ReasonCode? Reason => Failures.Count == 0 ? null : Failures[0].Reason;
}
