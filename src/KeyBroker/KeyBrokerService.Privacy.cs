// Privacy budgets (issue 19 item 6). A key whose policy has "x-enclave-privacy" {maxEpsilon, delta} is budgeted: a
// release of it must come from a round that trains with record-level DP and says what it spends
// (x-ms-runtime.privacy, else PrivacyRequired), and is granted only if ε, at the policy's δ, of the key's stored
// per-order RDP sum plus the round's RdpAccountant.Rdp(q, σ, T) stays within maxEpsilon (else PrivacyBudgetExhausted).
// The check reads the stored sum inside the release's write transaction (writers are serialised, so two releases
// racing for the last of a budget are decided one after the other) and the new sum is written in that same
// transaction as the grant's audit entry, which records the spend and ε before and after: the budget and the log
// commit together or not at all, and the log alone recomputes the budget (Audit/PrivacyLedger.cs). The sum is kept
// per key id, so every version (rotation) draws on one budget; composition is always in RDP space, never in ε.
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Policy;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;
using Enclave.Privacy;

namespace Enclave.KeyBroker;

public sealed partial class KeyBrokerService
{
    /// <summary>The RDP spent so far by the releases of key <paramref name="keyId"/> (committed state), or null when
    /// none was; waits for the writer.</summary>
    /// <exception cref="InvalidDataException">The stored value is not an RDP vector.</exception>
    public double[]? GetPrivacySpent(string keyId) => PrivacyLedger.ReadStored(_store, keyId);

    /// <summary>Before the write transaction: a budgeted key needs the round's privacy spend in the token.</summary>
    private static Decision? RequirePrivacy(ReleasePolicy policy, ValidatedToken token, int version, out RoundPrivacy? spend)
    {
        spend = null;
        if (policy.PrivacyBudget is null)
        {
            return null;
        }

        return RoundPrivacy.TryRead(token.Claims, out spend, out string problem)
            ? null
            : Decision.Deny(ReasonCode.PrivacyRequired, tokenStage: false,
                $"the key's policy sets a privacy budget and {problem}", version);
    }

    /// <summary>Inside the write transaction of a grant of a budgeted key: charges the round to the key's budget, or
    /// turns the grant into a PrivacyBudgetExhausted denial that spends nothing. <paramref name="record"/> is the
    /// audit entry's privacy member.</summary>
    private static Decision ChargeBudget(IKeyBrokerTransaction transaction, string keyName, Decision grant, out JsonObject? record)
    {
        PrivacyBudget budget = grant.Budget!;
        RoundPrivacy spend = grant.Spend!;
        record = null;
        byte[]? stored = transaction.GetPrivacyBudget(keyName);
        double[]? spent = stored is null ? new double[RdpAccountant.Orders.Length] : PrivacyLedger.Decode(stored);
        if (spent is null)
        {
            return Decision.Deny(ReasonCode.KeyIntegrityFailure, tokenStage: false,
                "the stored privacy budget is not one non-negative RDP value per order", grant.Version);
        }

        double before = PrivacyLedger.Epsilon(spent, budget.Delta);
        double[] after = (double[])spent.Clone();
        double[] round = spend.Rdp;
        for (int i = 0; i < after.Length; i++)
        {
            after[i] += round[i];
        }

        double reached = PrivacyLedger.Epsilon(after, budget.Delta);
        record = new JsonObject
        {
            ["spend"] = spend.ToJson(),
            ["delta"] = budget.Delta,
            ["maxEpsilon"] = budget.MaxEpsilon,
            ["epsilonBefore"] = double.IsFinite(before) ? before : null,
            ["epsilonAfter"] = double.IsFinite(reached) ? reached : null,
        };
        if (!(reached <= budget.MaxEpsilon))
        {
            return Decision.Deny(ReasonCode.PrivacyBudgetExhausted, tokenStage: false,
                FormattableString.Invariant($"the round would take ε at δ {budget.Delta} from {before:G6} to {reached:G6}, above the maximum {budget.MaxEpsilon}"),
                grant.Version);
        }

        transaction.SetPrivacyBudget(keyName, PrivacyLedger.Encode(after));
        return grant;
    }
}
