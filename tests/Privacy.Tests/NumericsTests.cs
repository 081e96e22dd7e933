// Checks of the numerics against independent computations (not published values):
// - erfc: values of Python's math.erfc (C library erfc, CPython 3.11).
// - one-step RDP at fractional and integer orders: A_α evaluated by adaptive quadrature in 40-digit arithmetic
//   (mpmath 1.3 quad of N(0,σ²)(z)·((1-q) + q·exp((2z-1)/(2σ²)))^α over (-∞, ∞), split at z₀ = σ² log(1/q - 1) + 1/2),
//   which is how TensorFlow Privacy's rdp_accountant_test checks its own series.

using Enclave.Privacy;

namespace Enclave.Privacy.Tests;

public sealed class NumericsTests
{
    [Theory]
    [InlineData(-3.0, 1.9999779095030015)]
    [InlineData(0.0, 1.0)]
    [InlineData(0.5, 0.4795001221869535)]
    [InlineData(2.4, 0.0006885138966450786)]
    [InlineData(2.6, 0.00023603441652934920)]
    [InlineData(3.0, 2.209049699858544e-05)]
    [InlineData(10.0, 2.088487583762545e-45)]
    [InlineData(26.0, 5.663192408856143e-296)]
    public void Erfc_MatchesReference(double x, double expected)
    {
        Assert.Equal(expected, LogMath.Erfc(x), expected * 1e-12);
    }

    [Fact]
    public void LogErfc_StaysFiniteFarInTheTail()
    {
        // erfc(100) underflows a double; its log (mpmath, 30 digits) does not.
        Assert.Equal(-10005.177585122665, LogMath.LogErfc(100), 9);
    }

    [Theory]
    [InlineData(0.5, 10, 1.25, 0.0015654278611886356)]
    [InlineData(0.5, 1, 1.25, 0.18403840772767036)]
    [InlineData(0.01, 1, 1.25, 0.00010539800509817623)]
    [InlineData(0.01, 10, 1.25, 6.2808810656870261e-7)]
    [InlineData(0.9, 5, 1.25, 0.020272216563980582)]
    [InlineData(1e-4, 0.5, 1.25, 3.2152050115729145e-7)]
    [InlineData(1e-4, 0.5, 4.5, 1.5545865357610833e-5)]
    [InlineData(0.001, 50, 2.5, 5.0010011318791069e-10)]
    [InlineData(0.1, 0.3, 1.5, 2.1502445845392093)]
    [InlineData(0.05, 0.7, 3.5, 0.11277649486092353)]
    [InlineData(0.3, 0.5, 2.25, 2.3821885455348755)]
    [InlineData(1e-7, 1, 1.75, 1.5034964983237742e-14)]
    [InlineData(0.01, 1, 7, 0.00071364645509635875)]
    [InlineData(1e-6, 1, 27, 3.3728889634032684e-11)]
    [InlineData(0.1, 0.4, 12, 34.988088989461037)]
    [InlineData(0.99, 0.1, 4.5, 224.9870781396169)]
    [InlineData(0.5, 10, 1.75, 0.0021943424811950541)]
    [InlineData(0.2, 0.2, 1.25, 8.010854157767322)]
    public void OneStep_MatchesQuadrature(double q, double sigma, double order, double expected)
    {
        // Relative 1e-7, or an absolute 1e-15 in log A_α: the floor of double arithmetic on A_α ≈ 1 at tiny q.
        double tolerance = Math.Max(expected * 1e-7, 1e-15 / (order - 1));
        Assert.Equal(expected, RdpAccountant.RdpAtOrder(q, sigma, order), tolerance);
    }

    [Fact]
    public void LogSum_AddsWithoutOverflow()
    {
        var sum = new LogSum();
        sum.Add(1000);
        sum.Add(1000);
        sum.Add(double.NegativeInfinity);
        Assert.Equal(1000 + Math.Log(2), sum.Value, 12);
        Assert.Equal(double.NegativeInfinity, new LogSum().Value);
    }
}
