// Rényi-DP accountant for DP-SGD: the Poisson-subsampled Gaussian mechanism (sensitivity 1, noise N(0, σ²), each record
// in a step's batch independently with probability q), under add-or-remove-one-record adjacency.
//
// One step at order α: RDP ε(α) = log(A_α) / (α - 1), with A_α = E_{z~N(0,σ²)}[((1 - q) + q·exp((2z - 1)/(2σ²)))^α]
// (Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", arXiv:1908.10530):
//   integer α:    A_α = Σ_k C(α,k) q^k (1-q)^(α-k) exp((k²-k)/(2σ²)) (section 3.2). Because the binomial weights sum to 1
//                 this is computed as log A_α = log(1 + Σ_{k≥2} C(α,k) q^k (1-q)^(α-k) expm1((k²-k)/(2σ²))), every term
//                 non-negative, so tiny q loses no digits to cancellation.
//   fractional α: A_α = A₀ + A₁, the integrals below and above z₀ = σ² log(1/q - 1) + 1/2, each as the convergent series
//                 of section 3.3 in Gaussian tail terms erfc(·)/2; positive and negative terms are summed separately in
//                 log space and subtracted once.
//   q = 0 gives 0; q = 1 gives the Gaussian mechanism's α / (2σ²).
// Composition: RDP adds over steps and over rounds, so T steps cost T·ε(α), and a ledger of heterogeneous spends is
// the per-order sum.
// Conversion (Balle et al. 2020, "Hypothesis testing interpretations and Rényi differential privacy", Theorem 21;
// Canonne, Kamath, Steinke 2020, "The discrete Gaussian for differential privacy", Proposition 12):
//   ε = min over α of  rdp(α) + log((α - 1)/α) - (log δ + log α)/(α - 1),
// and ε = 0 at an order whose rdp(α) ≤ -log(1 - δ²) (then δ ≥ sqrt(1 - exp(-KL)) already), clamped at 0.
// The order grid is that of TensorFlow Privacy's compute_dp_sgd_privacy: 1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5,
// every integer 5..63, 128, 256, 512 (72 orders).

namespace Enclave.Privacy;

/// <summary>
/// Rényi differential privacy of DP-SGD with Poisson sampling, and its conversion to (ε, δ)-DP. Deterministic, no state.
/// </summary>
public static class RdpAccountant
{
    private static readonly double[] s_orders = BuildOrders();

    // A stopping point for the fractional series: a term this far below the running sum changes it by less than 2⁻⁵².
    private const double SeriesTailLog = -36.0;
    private const int MaxSeriesTerms = 10_000_000;

    /// <summary>The Rényi orders α at which <see cref="Rdp(double, double, long)"/> reports, ascending.</summary>
    public static ReadOnlySpan<double> Orders => s_orders;

    /// <summary>RDP of <paramref name="steps"/> steps at every order of <see cref="Orders"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range (see <see cref="PrivacySpend"/>).</exception>
    public static double[] Rdp(double samplingRate, double noiseMultiplier, long steps)
    {
        var rdp = new double[s_orders.Length];
        AddRdp(samplingRate, noiseMultiplier, steps, rdp);
        return rdp;
    }

    /// <summary>The per-order sum of the RDP of every spend: a whole ledger's cost at <see cref="Orders"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="spends"/> or one of its items is null.</exception>
    public static double[] Rdp(IEnumerable<PrivacySpend> spends)
    {
        ArgumentNullException.ThrowIfNull(spends);
        var rdp = new double[s_orders.Length];
        foreach (var (samplingRate, noiseMultiplier, steps) in Coalesce(spends))
        {
            AddRdpCore(samplingRate, noiseMultiplier, steps, s_orders, rdp);
        }
        return rdp;
    }

    /// <summary>Adds the RDP of <paramref name="steps"/> steps at each order of <see cref="Orders"/> to <paramref name="rdp"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="rdp"/> does not have one entry per order.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range (see <see cref="PrivacySpend"/>).</exception>
    public static void AddRdp(double samplingRate, double noiseMultiplier, long steps, Span<double> rdp)
    {
        Validate(samplingRate, noiseMultiplier);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        if (rdp.Length != s_orders.Length)
        {
            throw new ArgumentException($"Expected {s_orders.Length} entries, one per order.", nameof(rdp));
        }
        AddRdpCore(samplingRate, noiseMultiplier, steps, s_orders, rdp);
    }

    /// <summary>RDP of one step at an arbitrary order α &gt; 1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="order"/> is not a finite number above 1, or another argument is outside its range.
    /// </exception>
    public static double RdpAtOrder(double samplingRate, double noiseMultiplier, double order)
    {
        Validate(samplingRate, noiseMultiplier);
        ValidateOrder(order);
        return RdpCore(samplingRate, noiseMultiplier, order);
    }

    /// <summary>The tightest (ε, δ) over <see cref="Orders"/> for everything spent.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="spends"/> or one of its items is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is not in (0, 1).</exception>
    public static PrivacyGuarantee Epsilon(IEnumerable<PrivacySpend> spends, double delta)
    {
        ValidateDelta(delta);
        return EpsilonCore(s_orders, Rdp(spends), delta);
    }

    /// <summary>The tightest (ε, δ) over <see cref="Orders"/> for <paramref name="steps"/> steps at one setting.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An argument is outside its range.</exception>
    public static PrivacyGuarantee Epsilon(double samplingRate, double noiseMultiplier, long steps, double delta)
    {
        ValidateDelta(delta);
        return EpsilonCore(s_orders, Rdp(samplingRate, noiseMultiplier, steps), delta);
    }

    /// <summary>Converts an RDP vector at <see cref="Orders"/> (for example a stored ledger total) to (ε, δ).</summary>
    /// <exception cref="ArgumentException"><paramref name="rdp"/> does not have one entry per order.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is not in (0, 1), or an entry is negative or NaN.</exception>
    public static PrivacyGuarantee EpsilonFromRdp(ReadOnlySpan<double> rdp, double delta) =>
        EpsilonFromRdp(s_orders, rdp, delta);

    /// <summary>Converts RDP values at caller-chosen orders (each a finite number above 1) to (ε, δ).</summary>
    /// <exception cref="ArgumentException">The spans differ in length or are empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="delta"/> is not in (0, 1), an order is not above 1, or an RDP value is negative or NaN.
    /// </exception>
    public static PrivacyGuarantee EpsilonFromRdp(ReadOnlySpan<double> orders, ReadOnlySpan<double> rdp, double delta)
    {
        ValidateDelta(delta);
        if (orders.Length != rdp.Length || orders.Length == 0)
        {
            throw new ArgumentException("Orders and RDP values must be non-empty and of equal length.", nameof(rdp));
        }
        foreach (double order in orders)
        {
            ValidateOrder(order, nameof(orders));
        }
        foreach (double value in rdp)
        {
            if (!(value >= 0))
            {
                throw new ArgumentOutOfRangeException(nameof(rdp), value, "RDP values must be non-negative.");
            }
        }
        return EpsilonCore(orders, rdp, delta);
    }

    /// <summary>
    /// Steps of <paramref name="epochs"/> passes over <paramref name="datasetSize"/> records at expected batch size
    /// <paramref name="expectedBatchSize"/>: ⌈epochs · N / B⌉, with sampling rate B / N.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// The sizes are not positive, the batch exceeds the dataset, or <paramref name="epochs"/> is negative or not finite.
    /// </exception>
    public static long StepsFor(long datasetSize, long expectedBatchSize, double epochs)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(datasetSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(expectedBatchSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(expectedBatchSize, datasetSize);
        if (!(epochs >= 0) || double.IsInfinity(epochs))
        {
            throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "Epochs must be finite and non-negative.");
        }
        return checked((long)Math.Ceiling(epochs * datasetSize / expectedBatchSize));
    }

    internal static void Validate(double samplingRate, double noiseMultiplier)
    {
        if (!(samplingRate >= 0 && samplingRate <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(samplingRate), samplingRate, "The sampling rate must be in [0, 1].");
        }
        if (!(noiseMultiplier > 0) || double.IsInfinity(noiseMultiplier))
        {
            throw new ArgumentOutOfRangeException(nameof(noiseMultiplier), noiseMultiplier, "The noise multiplier must be finite and positive.");
        }
    }

    private static void ValidateOrder(double order, string paramName = "order")
    {
        if (!(order > 1) || double.IsInfinity(order))
        {
            throw new ArgumentOutOfRangeException(paramName, order, "Rényi orders must be finite and above 1.");
        }
    }

    private static void ValidateDelta(double delta)
    {
        if (!(delta > 0 && delta < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "Delta must be in (0, 1).");
        }
    }

    // Identical (q, σ) settings are merged by summing their steps, in order of first appearance, so that a ledger of
    // many equal rounds costs one evaluation and equals a single spend of the summed steps exactly.
    private static List<(double SamplingRate, double NoiseMultiplier, long Steps)> Coalesce(IEnumerable<PrivacySpend> spends)
    {
        var merged = new List<(double, double, long)>();
        foreach (var spend in spends)
        {
            ArgumentNullException.ThrowIfNull(spend, nameof(spends));
            int index = merged.FindIndex(m => m.Item1 == spend.SamplingRate && m.Item2 == spend.NoiseMultiplier);
            if (index < 0)
            {
                merged.Add((spend.SamplingRate, spend.NoiseMultiplier, spend.Steps));
            }
            else
            {
                var m = merged[index];
                merged[index] = (m.Item1, m.Item2, checked(m.Item3 + spend.Steps));
            }
        }
        return merged;
    }

    private static void AddRdpCore(double q, double sigma, long steps, ReadOnlySpan<double> orders, Span<double> rdp)
    {
        if (steps == 0 || q == 0)
        {
            return;
        }
        for (int i = 0; i < orders.Length; i++)
        {
            rdp[i] += steps * RdpCore(q, sigma, orders[i]);
        }
    }

    private static double RdpCore(double q, double sigma, double alpha)
    {
        if (q == 0)
        {
            return 0.0;
        }
        if (q == 1)
        {
            return alpha / (2 * sigma * sigma);
        }
        double logA = alpha == Math.Floor(alpha) ? LogAInteger(q, sigma, alpha) : LogAFractional(q, sigma, alpha);
        return Math.Max(0.0, logA / (alpha - 1));
    }

    private static double LogAInteger(double q, double sigma, double alpha)
    {
        double logQ = Math.Log(q);
        double log1MinusQ = LogMath.Log1p(-q);
        double twoSigma2 = 2 * sigma * sigma;
        var excess = new LogSum();
        double logBinomial = Math.Log(alpha); // log C(α, 1)
        for (double k = 2; k <= alpha; k++)
        {
            logBinomial += Math.Log(alpha - k + 1) - Math.Log(k);
            double logWeight = logBinomial + k * logQ + (alpha - k) * log1MinusQ;
            excess.Add(logWeight + LogMath.LogExpm1((k * k - k) / twoSigma2));
        }
        return LogMath.LogAdd(0.0, excess.Value);
    }

    private static double LogAFractional(double q, double sigma, double alpha)
    {
        double logQ = Math.Log(q);
        double log1MinusQ = LogMath.Log1p(-q);
        double twoSigma2 = 2 * sigma * sigma;
        double scale = 1.0 / (Math.Sqrt(2.0) * sigma);
        double z0 = sigma * sigma * (log1MinusQ - logQ) + 0.5;
        double logHalf = -Math.Log(2.0);

        LogSum below = new(), belowNegative = new(), above = new(), aboveNegative = new();
        double logAbsBinomial = 0.0; // log |C(α, 0)|
        bool positive = true;
        for (int k = 0; k < MaxSeriesTerms; k++)
        {
            if (k > 0)
            {
                double factor = alpha - k + 1;
                logAbsBinomial += Math.Log(Math.Abs(factor)) - Math.Log(k);
                positive ^= factor < 0;
            }
            double j = alpha - k;
            double s0 = logAbsBinomial + k * logQ + j * log1MinusQ + ((double)k * k - k) / twoSigma2
                + logHalf + LogMath.LogErfc((k - z0) * scale);
            double s1 = logAbsBinomial + j * logQ + k * log1MinusQ + (j * j - j) / twoSigma2
                + logHalf + LogMath.LogErfc((z0 - j) * scale);
            if (positive)
            {
                below.Add(s0);
                above.Add(s1);
            }
            else
            {
                belowNegative.Add(s0);
                aboveNegative.Add(s1);
            }
            if (k > alpha && Math.Max(s0, s1) < LogMath.LogAdd(below.Value, above.Value) + SeriesTailLog)
            {
                break;
            }
        }
        double logA0 = LogMath.LogSub(below.Value, belowNegative.Value);
        double logA1 = LogMath.LogSub(above.Value, aboveNegative.Value);
        return LogMath.LogAdd(logA0, logA1);
    }

    private static PrivacyGuarantee EpsilonCore(ReadOnlySpan<double> orders, ReadOnlySpan<double> rdp, double delta)
    {
        double logDelta = Math.Log(delta);
        double klThreshold = -LogMath.Log1p(-delta * delta);
        double best = double.PositiveInfinity;
        double bestOrder = double.NaN;
        for (int i = 0; i < orders.Length; i++)
        {
            double alpha = orders[i];
            double epsilon = rdp[i] <= klThreshold
                ? 0.0
                : rdp[i] + LogMath.Log1p(-1.0 / alpha) - (logDelta + Math.Log(alpha)) / (alpha - 1);
            if (epsilon < best)
            {
                best = epsilon;
                bestOrder = alpha;
            }
        }
        return new PrivacyGuarantee(Math.Max(0.0, best), delta, bestOrder);
    }

    private static double[] BuildOrders()
    {
        var orders = new List<double> { 1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5 };
        for (int alpha = 5; alpha <= 63; alpha++)
        {
            orders.Add(alpha);
        }
        orders.AddRange([128, 256, 512]);
        return [.. orders];
    }
}
