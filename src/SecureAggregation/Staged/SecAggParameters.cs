// Cohort parameters of the staged protocol: neighbour-graph degree k and Shamir threshold t.
//
// Each client u shares its two secrets among its m = k + 1 holders (its k neighbours and itself). Following the
// structure of the analysis of Bell et al. (CCS 2020, SecAgg+), with dropouts and corruptions modelled as
// independent per client with probabilities delta and gamma, and a union bound over the n neighbourhoods:
//   D = least d with n * P[Bin(m, delta) > d] <= 2^-eta    (dropouts per neighbourhood, correctness eta = 30)
//   C = least c with n * P[Bin(m, gamma) > c] <= 2^-sigma  (corrupt holders, security sigma = 40)
//   t = max(C + 1, floor((m + C) / 2) + 1)                 (an active server cannot get two disjoint sets of
//                                                          t signers on different survivor sets; Bonawitz et al.)
//   valid when t <= m - D and t < m.
// A sparse graph must also stay connected after removing dropped and corrupt clients, else the server learns
// partial sums: a Harary graph H(n, k) is cut only by k/2 consecutive removed positions, so k is at least
//   2 * ceil((sigma ln 2 + ln n) / ln(1 / (delta + gamma))).
// The smallest even k meeting all of this is used; if none below n - 1 does, the graph is complete (every
// client a neighbour of every other) and D = ceil(delta n), C = ceil(gamma n) are taken as worst cases.
namespace Enclave.SecureAggregation.Staged;

/// <summary>Neighbour-graph degree and Shamir threshold for one cohort.</summary>
public sealed record SecAggParameters
{
    public const int MaxCohortSize = Shamir.MaxIndex;
    public const int SecurityBits = 40;
    public const int CorrectnessBits = 30;
    public const int CompleteGraphCohort = 64;

    private SecAggParameters(int cohortSize, int degree, int threshold, int corruptionBound, int dropoutBound)
    {
        CohortSize = cohortSize;
        Degree = degree;
        Threshold = threshold;
        CorruptionBound = corruptionBound;
        DropoutBound = dropoutBound;
    }

    /// <summary>n, the number of clients the round starts with.</summary>
    public int CohortSize { get; }

    /// <summary>k, neighbours per client (n - 1 for the complete graph).</summary>
    public int Degree { get; }

    /// <summary>t, shares needed to reconstruct a client's secret.</summary>
    public int Threshold { get; }

    /// <summary>Corrupt share holders per neighbourhood the threshold is designed to withstand.</summary>
    public int CorruptionBound { get; }

    /// <summary>Dropped share holders per neighbourhood the threshold is designed to survive.</summary>
    public int DropoutBound { get; }

    /// <summary>m = k + 1: the shares of each secret (neighbours and the client itself).</summary>
    public int ShareCount => Degree + 1;

    public bool IsComplete => Degree == CohortSize - 1;

    /// <summary>Derives k and t from the cohort size, tolerated dropout fraction and corruption fraction.</summary>
    /// <exception cref="ArgumentOutOfRangeException">No graph of this cohort size meets the requirements.</exception>
    public static SecAggParameters Derive(int cohortSize, double dropoutFraction, double corruptionFraction)
    {
        CheckCohort(cohortSize);
        if (!(dropoutFraction >= 0 && dropoutFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(dropoutFraction), dropoutFraction, "the dropout fraction is within [0, 1)");
        }

        if (!(corruptionFraction >= 0 && corruptionFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(corruptionFraction), corruptionFraction, "the corruption fraction is within [0, 1)");
        }

        int n = cohortSize;
        if (n > CompleteGraphCohort)
        {
            double removed = dropoutFraction + corruptionFraction;
            double unionBits = (SecurityBits * Math.Log(2)) + Math.Log(n);
            int minDegree = removed <= 0 ? 2 : removed >= 1 ? int.MaxValue : 2 * (int)Math.Ceiling(unionBits / Math.Log(1 / removed));
            int k = Math.Max(2, minDegree + (minDegree % 2));
            while (k < n - 1)
            {
                int m = k + 1;
                int d = TailBound(m, dropoutFraction, (CorrectnessBits * Math.Log(2)) + Math.Log(n));
                int c = TailBound(m, corruptionFraction, unionBits);
                int t = ThresholdFor(m, c);
                if (t <= m - d && t < m)
                {
                    return new SecAggParameters(n, k, t, c, d);
                }

                int step = Math.Max(2, k / 32);
                k += step + (step % 2);
            }
        }

        int share = n;
        int dropout = (int)Math.Ceiling(dropoutFraction * n);
        int corrupt = Math.Min(share, (int)Math.Ceiling(corruptionFraction * n));
        int threshold = ThresholdFor(share, corrupt);
        if (threshold > share - dropout || threshold >= share)
        {
            throw new ArgumentOutOfRangeException(nameof(dropoutFraction), dropoutFraction,
                $"no threshold works for {n} clients with dropout {dropoutFraction} and corruption {corruptionFraction}: " +
                $"it must exceed {Math.Max(corrupt, (share + corrupt) / 2)} and be at most {share - dropout} and below {share}");
        }

        return new SecAggParameters(n, n - 1, threshold, corrupt, dropout);
    }

    /// <summary>Explicit degree and threshold (for tests and fixed deployments), checked against the same rules.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range or the threshold is unsafe.</exception>
    public static SecAggParameters Explicit(int cohortSize, int degree, int threshold, int corruptionBound = 0)
    {
        CheckCohort(cohortSize);
        if (degree < 1 || degree > cohortSize - 1)
        {
            throw new ArgumentOutOfRangeException(nameof(degree), degree, $"the degree is within [1, {cohortSize - 1}] for {cohortSize} clients");
        }

        if (degree != cohortSize - 1 && degree % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(degree), degree, "a sparse (Harary) graph has an even degree");
        }

        int m = degree + 1;
        if (corruptionBound < 0 || corruptionBound >= m)
        {
            throw new ArgumentOutOfRangeException(nameof(corruptionBound), corruptionBound, $"the corruption bound is within [0, {m - 1}]");
        }

        if (threshold >= m)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"the threshold must be below the share count {m}");
        }

        if (threshold <= corruptionBound)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"the threshold must exceed the corruption bound {corruptionBound}");
        }

        if (2 * threshold <= m + corruptionBound)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold,
                $"the threshold must exceed (shares + corruption) / 2 = {(m + corruptionBound) / 2.0} so that no two disjoint signer sets agree on different survivors");
        }

        return new SecAggParameters(cohortSize, degree, threshold, corruptionBound, m - threshold);
    }

    private static void CheckCohort(int cohortSize)
    {
        if (cohortSize < 3 || cohortSize > MaxCohortSize)
        {
            throw new ArgumentOutOfRangeException(nameof(cohortSize), cohortSize, $"a cohort has 3 to {MaxCohortSize} clients");
        }
    }

    private static int ThresholdFor(int shares, int corrupt) => Math.Max(corrupt + 1, ((shares + corrupt) / 2) + 1);

    /// <summary>Least d with exp(logBudget) * P[Bin(m, p) > d] &lt;= 1, i.e. the tail beyond d is below exp(-logBudget).</summary>
    private static int TailBound(int m, double p, double logBudget)
    {
        if (p <= 0)
        {
            return 0;
        }

        // Walk down from the top: accumulate P[X = j] for j = m, m-1, ... in log space.
        double logP = Math.Log(p);
        double logQ = Math.Log(1 - p);
        var logFactorial = new double[m + 1];
        for (int i = 2; i <= m; i++)
        {
            logFactorial[i] = logFactorial[i - 1] + Math.Log(i);
        }

        double tail = 0;
        for (int j = m; j >= 0; j--)
        {
            double logPmf = logFactorial[m] - logFactorial[j] - logFactorial[m - j] + (j * logP) + ((m - j) * logQ);
            double next = tail + Math.Exp(logPmf);
            if (Math.Log(next) > -logBudget)
            {
                return j;
            }

            tail = next;
        }

        return 0;
    }
}
