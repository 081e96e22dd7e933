// The accountant against values printed by the two reference implementations. Each row cites where its number is
// published; the inputs are reproduced exactly (orders, steps rounding, δ) so that the comparison is of the mathematics.
//   [TFP-rdp]  tensorflow/privacy, tensorflow_privacy/privacy/analysis/rdp_accountant_test.py
//   [TFP-sgd]  tensorflow/privacy, tensorflow_privacy/privacy/analysis/compute_dp_sgd_privacy_test.py (the version whose
//              compute_dp_sgd_privacy_lib uses dp_accounting's RdpAccountant, i.e. the improved conversion, with the
//              orders 1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, 5..63, 128, 256, 512 and ⌈epochs·n/batch⌉ steps)
//   [TFP-tut]  tensorflow/privacy, tutorials/README.md, "Select Parameters" table (MNIST, n = 60000, batch 256,
//              δ = 1e-5; tutorials/mnist_dpsgd_tutorial.py: orders 1.1..10.9 step 0.1 and 12..63, 60000 // 256 = 234
//              steps per epoch; computed with the original conversion ε = rdp - log δ / (α - 1))
//   [Opacus-t] pytorch/opacus, opacus/tests/accountants_test.py, test_rdp_accountant (RDPAccountant.DEFAULT_ALPHAS
//              1.1..10.9 step 0.1 and 12..63)
//   [Opacus-s] pytorch/opacus, opacus/scripts/compute_dp_sgd_privacy.py module docstring (also opacus.ai/api/
//              compute_dp_sgd_privacy.html): epochs 3, q = 0.01, σ = 1.0, alphas 2 5 10 20 100 → ε = 2.39, α = 5

using Enclave.Privacy;

namespace Enclave.Privacy.Tests;

public sealed class PublishedValuesTests
{
    private static double[] OpacusAlphas()
    {
        var alphas = new List<double>();
        for (int x = 1; x < 100; x++)
        {
            alphas.Add(1 + x / 10.0);
        }
        for (int alpha = 12; alpha < 64; alpha++)
        {
            alphas.Add(alpha);
        }
        return [.. alphas];
    }

    private static double[] RdpAt(double[] orders, double q, double sigma, long steps) =>
        [.. orders.Select(order => steps * RdpAccountant.RdpAtOrder(q, sigma, order))];

    // The pre-2020 conversion (Mironov 2017, Proposition 3), for values published with it.
    private static (double Epsilon, double Order) ClassicConversion(double[] orders, double[] rdp, double delta)
    {
        double best = double.PositiveInfinity;
        double order = double.NaN;
        for (int i = 0; i < orders.Length; i++)
        {
            double epsilon = rdp[i] - Math.Log(delta) / (orders[i] - 1);
            if (epsilon < best)
            {
                (best, order) = (epsilon, orders[i]);
            }
        }
        return (best, order);
    }

    [Fact]
    public void TfpRdp_Scalar()
    {
        // [TFP-rdp] test_compute_rdp_scalar: compute_rdp(q=0.1, σ=2, steps=10, order=5) ≈ 0.07737 (5 places).
        Assert.Equal(0.07737, 10 * RdpAccountant.RdpAtOrder(0.1, 2, 5), 5);
    }

    [Theory]
    [InlineData(1.5, 0.00065)]
    [InlineData(2.5, 0.001085)]
    [InlineData(5, 0.00218075)]
    [InlineData(50, 0.023846)]
    [InlineData(100, 167.416307)]
    public void TfpRdp_Sequence(double order, double expected)
    {
        // [TFP-rdp] test_compute_rdp_sequence: q=0.01, σ=2.5, 50 steps, within 1e-5.
        Assert.InRange(50 * RdpAccountant.RdpAtOrder(0.01, 2.5, order), expected - 1e-5, expected + 1e-5);
    }

    [Fact]
    public void TfpRdp_NoDataNoSamplingHeterogeneous()
    {
        // [TFP-rdp] test_compute_rdp_no_data, test_compute_rdp_no_sampling, and the heterogeneous case
        // q = [0, 1], σ = [10, 10], steps = [1, 1] at order 20 → 0.1.
        Assert.Equal(0.0, RdpAccountant.RdpAtOrder(0, 10, 20));
        Assert.Equal(0.1, RdpAccountant.RdpAtOrder(1, 10, 20));
        Assert.Equal(0.1, RdpAccountant.RdpAtOrder(0, 10, 20) + RdpAccountant.RdpAtOrder(1, 10, 20));
    }

    [Fact]
    public void TfpRdp_ConstantRdpPicksLargestOrder()
    {
        // [TFP-rdp] test_get_privacy_spent_check_target_delta: rdp = 1.1 at orders 2..32, δ = 1e-5 → ε = 1.32783806176 at 32.
        double[] orders = [.. Enumerable.Range(2, 31).Select(o => (double)o)];
        double[] rdp = [.. orders.Select(_ => 1.1)];
        var guarantee = RdpAccountant.EpsilonFromRdp(orders, rdp, 1e-5);
        Assert.Equal(1.32783806176, guarantee.Epsilon, 10);
        Assert.Equal(32, guarantee.Order);
    }

    [Fact]
    public void TfpRdp_GaussianCalibratedToEpsilonOne()
    {
        // [TFP-rdp] same test, second part: q = 1, σ = 4.530877117, orders 1.001..99.999 step 0.001 → (1, 1e-6)-DP.
        double[] orders = [.. Enumerable.Range(1001, 98999).Select(i => 0.001 * i)];
        double[] rdp = [.. orders.Select(order => RdpAccountant.RdpAtOrder(1, 4.530877117, order))];
        Assert.Equal(1.0, RdpAccountant.EpsilonFromRdp(orders, rdp, 1e-6).Epsilon, 7);
    }

    [Fact]
    public void TfpRdp_Composition()
    {
        // [TFP-rdp] test_check_composition: (q=1e-4, σ=0.4, 40000 steps) then (q=0.1, σ=2, 100 steps), δ = 1e-5;
        // with the original conversion ε = 8.509656 at order 2.5, and the improved conversion stays below it.
        double[] orders = [1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 64, 256];
        double[] first = RdpAt(orders, 1e-4, 0.4, 40000);
        double[] second = RdpAt(orders, 0.1, 2, 100);
        double[] total = [.. first.Zip(second, (a, b) => a + b)];

        var (classic, classicOrder) = ClassicConversion(orders, total, 1e-5);
        Assert.Equal(8.509656, classic, 5);
        Assert.Equal(2.5, classicOrder);
        Assert.True(RdpAccountant.EpsilonFromRdp(orders, total, 1e-5).Epsilon <= 8.509656);
    }

    [Theory]
    [InlineData(60000, 150, 1.3, 15, 1e-5, 0.7242234026109595, 19.0)]
    [InlineData(100000, 100, 1.0, 30, 1e-7, 1.4154988495444842, 13.0)]
    [InlineData(100000000, 1024, 0.1, 10, 1e-7, 5907982.3113978775, 1.25)]
    public void TfpSgd_DefaultGrid(long n, long batch, double sigma, double epochs, double delta, double expected, double order)
    {
        // [TFP-sgd] test_compute_dp_sgd_privacy Test0..Test2; our default grid is that grid.
        var guarantee = RdpAccountant.Epsilon((double)batch / n, sigma, RdpAccountant.StepsFor(n, batch, epochs), delta);
        Assert.Equal(expected, guarantee.Epsilon, expected * 1e-9);
        Assert.Equal(order, guarantee.Order);
    }

    [Theory]
    [InlineData(1.12, 60, 2.92)]
    [InlineData(0.6, 30, 9.74)]
    [InlineData(1.2, 10, 1.20)]
    public void TfpTutorial_MnistTable(double sigma, int epochs, double printed)
    {
        // [TFP-tut] printed to 2 decimals with the original conversion; the improved one is smaller.
        double[] orders = OpacusAlphas();
        double[] rdp = RdpAt(orders, 256.0 / 60000, sigma, epochs * (60000 / 256));
        // Within one unit of the last printed digit: the 0.6 / 30-epoch row computes to 9.7469, printed 9.74.
        Assert.InRange(ClassicConversion(orders, rdp, 1e-5).Epsilon, printed - 0.01, printed + 0.01);
        Assert.True(RdpAccountant.EpsilonFromRdp(orders, rdp, 1e-5).Epsilon < printed);
    }

    [Fact]
    public void OpacusTest_RdpAccountant()
    {
        // [Opacus-t] σ = 1.5, q = 0.04, int(90 / 0.04) = 2250 steps, δ = 1e-5 → ε = 7.32911117143 (7 places).
        double[] orders = OpacusAlphas();
        var guarantee = RdpAccountant.EpsilonFromRdp(orders, RdpAt(orders, 0.04, 1.5, 2250), 1e-5);
        Assert.Equal(7.32911117143, guarantee.Epsilon, 7);
    }

    [Fact]
    public void OpacusScript_Docstring()
    {
        // [Opacus-s] 3 epochs · ⌈1 / 0.01⌉ = 300 steps → "epsilon = 2.39" (3 significant digits), "optimal alpha is 5.0".
        double[] orders = [2, 5, 10, 20, 100];
        var guarantee = RdpAccountant.EpsilonFromRdp(orders, RdpAt(orders, 0.01, 1.0, 300), 1e-5);
        Assert.Equal(2.39, Math.Round(guarantee.Epsilon, 2));
        Assert.Equal(5, guarantee.Order);
    }
}
