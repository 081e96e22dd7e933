// Log-space helpers for the accountant. .NET's double.LogP1/ExpM1 compute log(1 + x) and exp(x) - 1 directly,
// which loses all precision for |x| near 1e-16, so the accurate forms are here (Goldberg's log1p, Kahan's expm1).
// erfc: for x < 2.5 from the all-positive series erf(x) = 2/√π e^(-x²) Σ 2ⁿ x^(2n+1)/(2n+1)!! (relative error of
// erfc below 1e-12 there), for x ≥ 2.5 from Laplace's continued fraction, evaluated with modified Lentz and kept in
// log space so that log erfc(x) stays finite for any x.

using System.Diagnostics;

namespace Enclave.Privacy;

internal static class LogMath
{
    private const double LogSqrtPi = 0.57236494292470008; // log(√π)
    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double ContinuedFractionFrom = 2.5;

    public static double Log1p(double x)
    {
        double u = 1.0 + x;
        if (u == 1.0)
        {
            return x;
        }
        if (double.IsPositiveInfinity(u))
        {
            return u;
        }
        return Math.Log(u) * x / (u - 1.0);
    }

    public static double Expm1(double x)
    {
        if (x > 700)
        {
            return Math.Exp(x);
        }
        double u = Math.Exp(x);
        if (u == 1.0)
        {
            return x;
        }
        double um1 = u - 1.0;
        if (um1 == -1.0)
        {
            return -1.0;
        }
        return um1 * x / Math.Log(u);
    }

    /// <summary>log(exp(x) - 1) for x &gt; 0.</summary>
    public static double LogExpm1(double x)
    {
        Debug.Assert(x > 0);
        return x > 40 ? x + Log1p(-Math.Exp(-x)) : Math.Log(Expm1(x));
    }

    /// <summary>log(exp(a) + exp(b)).</summary>
    public static double LogAdd(double a, double b)
    {
        double hi = Math.Max(a, b);
        double lo = Math.Min(a, b);
        if (double.IsNegativeInfinity(lo))
        {
            return hi;
        }
        return hi + Log1p(Math.Exp(lo - hi));
    }

    /// <summary>log(exp(a) - exp(b)) for a ≥ b; -∞ when they are equal.</summary>
    public static double LogSub(double a, double b)
    {
        if (double.IsNegativeInfinity(b))
        {
            return a;
        }
        if (a <= b)
        {
            return double.NegativeInfinity;
        }
        return a + Log1p(-Math.Exp(b - a));
    }

    public static double LogErfc(double x)
    {
        if (x < 0)
        {
            return Math.Log(1.0 + Erf(-x));
        }
        if (x < ContinuedFractionFrom)
        {
            return Math.Log(1.0 - Erf(x));
        }
        return -x * x - LogSqrtPi - Math.Log(ErfcContinuedFraction(x));
    }

    public static double Erfc(double x) => Math.Exp(LogErfc(x));

    // 0 ≤ x < 2.5 (also used by LogErfc for -x of any size; erf saturates at 1 beyond ~6).
    private static double Erf(double x)
    {
        if (x >= 6.0)
        {
            return 1.0;
        }
        double twoX2 = 2.0 * x * x;
        double term = x;
        double sum = x;
        for (int n = 1; n < 500; n++)
        {
            term *= twoX2 / (2 * n + 1);
            sum += term;
            if (term < sum * 1e-17)
            {
                break;
            }
        }
        return Math.Min(1.0, TwoOverSqrtPi * Math.Exp(-x * x) * sum);
    }

    // f = x + (1/2)/(x + 1/(x + (3/2)/(x + ...))), so that erfc(x) = exp(-x²) / (√π f).
    private static double ErfcContinuedFraction(double x)
    {
        const double Tiny = 1e-300;
        double f = x;
        double c = x;
        double d = 0.0;
        for (int n = 1; n < 10_000; n++)
        {
            double a = 0.5 * n;
            d = x + a * d;
            if (d == 0.0)
            {
                d = Tiny;
            }
            c = x + a / c;
            if (c == 0.0)
            {
                c = Tiny;
            }
            d = 1.0 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1.0) < 1e-16)
            {
                break;
            }
        }
        return f;
    }
}

/// <summary>Streaming log-sum-exp: <see cref="Value"/> is log Σ exp(tᵢ) over the added tᵢ, without overflow.</summary>
internal struct LogSum
{
    private double _max;
    private double _scaled;

    public LogSum()
    {
        _max = double.NegativeInfinity;
        _scaled = 0.0;
    }

    public readonly double Value => double.IsNegativeInfinity(_max) ? _max : _max + Math.Log(_scaled);

    public void Add(double t)
    {
        if (double.IsNegativeInfinity(t))
        {
            return;
        }
        if (double.IsPositiveInfinity(_max))
        {
            return;
        }
        if (t <= _max)
        {
            _scaled += Math.Exp(t - _max);
        }
        else
        {
            _scaled = _scaled * Math.Exp(_max - t) + 1.0;
            _max = t;
        }
    }
}
