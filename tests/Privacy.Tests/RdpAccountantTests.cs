using Enclave.Privacy;

namespace Enclave.Privacy.Tests;

public sealed class RdpAccountantTests
{
    [Fact]
    public void Orders_AreTheDocumentedGrid()
    {
        var orders = RdpAccountant.Orders;
        Assert.Equal(72, orders.Length);
        Assert.Equal(1.25, orders[0]);
        Assert.Equal(512, orders[^1]);
        for (int i = 1; i < orders.Length; i++)
        {
            Assert.True(orders[i] > orders[i - 1]);
        }
    }

    [Theory]
    [InlineData(0.5, 1)]
    [InlineData(1.1, 1000)]
    [InlineData(4, 7)]
    public void FullBatch_IsTheGaussianClosedForm(double sigma, long steps)
    {
        double[] rdp = RdpAccountant.Rdp(1, sigma, steps);
        for (int i = 0; i < rdp.Length; i++)
        {
            double expected = steps * RdpAccountant.Orders[i] / (2 * sigma * sigma);
            Assert.Equal(expected, rdp[i], expected * 1e-15);
        }
    }

    [Fact]
    public void NoSamplingOrNoSteps_CostsNothing()
    {
        Assert.All(RdpAccountant.Rdp(0, 1, 1000), value => Assert.Equal(0.0, value));
        Assert.All(RdpAccountant.Rdp(0.5, 1e-3, 0), value => Assert.Equal(0.0, value));
        var guarantee = RdpAccountant.Epsilon([], 1e-5);
        Assert.Equal(0.0, guarantee.Epsilon);
        Assert.Equal(1e-5, guarantee.Delta);
    }

    [Fact]
    public void MoreSteps_CostMore()
    {
        double previous = 0;
        foreach (long steps in new long[] { 1, 10, 100, 1000, 10_000 })
        {
            double epsilon = RdpAccountant.Epsilon(0.01, 1.1, steps, 1e-5).Epsilon;
            Assert.True(epsilon > previous, $"{steps} steps: {epsilon} after {previous}");
            previous = epsilon;
        }
    }

    [Fact]
    public void MoreNoise_CostsLess()
    {
        double previous = double.PositiveInfinity;
        foreach (double sigma in new[] { 0.5, 0.8, 1.0, 1.5, 2.0, 4.0 })
        {
            double epsilon = RdpAccountant.Epsilon(0.02, sigma, 500, 1e-6).Epsilon;
            Assert.True(epsilon < previous, $"σ = {sigma}: {epsilon} after {previous}");
            previous = epsilon;
        }
    }

    [Fact]
    public void HigherSamplingRate_CostsMore()
    {
        double previous = 0;
        foreach (double q in new[] { 1e-4, 1e-3, 0.01, 0.1, 0.5, 1 })
        {
            double rdp = RdpAccountant.RdpAtOrder(q, 1.0, 8);
            Assert.True(rdp > previous, $"q = {q}: {rdp} after {previous}");
            previous = rdp;
        }
    }

    [Fact]
    public void RdpIsNonDecreasingInOrder()
    {
        foreach (var (q, sigma) in new[] { (0.01, 1.1), (0.3, 0.7), (0.001, 5.0), (0.9, 2.0) })
        {
            double[] rdp = RdpAccountant.Rdp(q, sigma, 1);
            for (int i = 1; i < rdp.Length; i++)
            {
                Assert.True(rdp[i] >= rdp[i - 1] * (1 - 1e-12), $"q={q} σ={sigma} at {RdpAccountant.Orders[i]}");
            }
        }
    }

    [Fact]
    public void Rounds_ComposeToOneSpendOfTheSummedSteps()
    {
        var rounds = Enumerable.Repeat(new PrivacySpend(0.01, 1.1, 250), 8).ToArray();
        var one = RdpAccountant.Epsilon(0.01, 1.1, 2000, 1e-5);
        Assert.Equal(one, RdpAccountant.Epsilon(rounds, 1e-5));

        double[] split = RdpAccountant.Rdp(0.01, 1.1, 1200);
        RdpAccountant.AddRdp(0.01, 1.1, 800, split);
        double[] whole = RdpAccountant.Rdp(0.01, 1.1, 2000);
        for (int i = 0; i < whole.Length; i++)
        {
            Assert.Equal(whole[i], split[i], whole[i] * 1e-14);
        }
    }

    [Fact]
    public void HeterogeneousSpends_AddPerOrder()
    {
        PrivacySpend[] spends = [new(0.01, 1.1, 300), new(0.05, 2.0, 40), new(1, 8, 3), new(0.01, 1.1, 200)];
        double[] expected = new double[RdpAccountant.Orders.Length];
        RdpAccountant.AddRdp(0.01, 1.1, 500, expected);
        RdpAccountant.AddRdp(0.05, 2.0, 40, expected);
        RdpAccountant.AddRdp(1, 8, 3, expected);
        Assert.Equal(expected, RdpAccountant.Rdp(spends));

        var guarantee = RdpAccountant.Epsilon(spends, 1e-5);
        Assert.Equal(RdpAccountant.EpsilonFromRdp(expected, 1e-5), guarantee);
        Assert.True(guarantee.Epsilon > RdpAccountant.Epsilon(0.01, 1.1, 500, 1e-5).Epsilon);
    }

    [Fact]
    public void SmallerDelta_CostsMore()
    {
        double[] rdp = RdpAccountant.Rdp(0.004, 1.1, 14063);
        double e5 = RdpAccountant.EpsilonFromRdp(rdp, 1e-5).Epsilon;
        double e9 = RdpAccountant.EpsilonFromRdp(rdp, 1e-9).Epsilon;
        Assert.True(e9 > e5);
    }

    [Fact]
    public void IsDeterministic()
    {
        Assert.Equal(RdpAccountant.Rdp(0.0123, 0.87, 4321), RdpAccountant.Rdp(0.0123, 0.87, 4321));
    }

    [Fact]
    public void StepsFor_RoundsUp()
    {
        Assert.Equal(14063, RdpAccountant.StepsFor(60000, 256, 60));
        Assert.Equal(6000, RdpAccountant.StepsFor(60000, 150, 15));
        Assert.Equal(0, RdpAccountant.StepsFor(100, 10, 0));
    }

    [Fact]
    public void OneEvaluation_IsCheap()
    {
        // A ledger of a region's rounds is evaluated per release; keep it in the millisecond range.
        RdpAccountant.Rdp(0.01, 1.1, 1);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 20; i++)
        {
            RdpAccountant.Epsilon(0.01 + i * 1e-4, 1.1, 1000, 1e-5);
        }
        Assert.True(watch.Elapsed.TotalMilliseconds / 20 < 20, $"{watch.Elapsed.TotalMilliseconds / 20} ms per call");
    }
}
