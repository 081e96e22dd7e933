using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Verification;
using Enclave.Testing;

namespace Enclave.Bench;

/// <summary>
/// `scripts/bench.sh verify`: verifications per second and p99 latency per hardware kind with warm collateral,
/// and the ratio of the bare signature checks' cost to the full verification's, timed interleaved in the same
/// run (so machine noise affects both alike).
/// </summary>
internal static class VerifyBench
{
    public static Command Create()
    {
        var samples = new Option<string?>("--samples") { Description = "folder of evidence samples in the test-vector layout (kind/sample/expected.json); default: the repository's verifier test data" };
        var seconds = new Option<double>("--seconds") { DefaultValueFactory = _ => 3, Description = "measuring time per kind" };
        Option<string?> json = BenchJson.Option();
        var command = new Command("verify", "Benchmark hardware evidence verification per kind.") { samples, seconds, json };
        command.SetAction(parse => BenchErrors.RunAsync(() =>
        {
            string root = parse.GetValue(samples) ?? FindDefaultSamples();
            if (!Directory.Exists(root))
            {
                throw new BenchException($"--samples {root}: no such folder");
            }

            double perKind = parse.GetValue(seconds);
            if (perKind is <= 0 or > 600)
            {
                throw new BenchException("--seconds must be within (0, 600]");
            }

            JsonArray kinds = [];
            foreach (KindResult result in Run(HardwareSample.LoadAll(root), TimeSpan.FromSeconds(perKind)))
            {
                kinds.Add(result.ToJson());
                if (!BenchJson.Requested(parse, json))
                {
                    Console.WriteLine($"{result.Kind,-8} {result.PerSecond,10:F0}/s  p50 {result.P50Ms,7:F3} ms  p99 {result.P99Ms,7:F3} ms  crypto-bound ratio {result.CryptoBoundRatio:F2}  ({result.Sample})");
                }
            }

            if (BenchJson.Requested(parse, json))
            {
                BenchJson.Write(parse, json, new JsonObject { ["kinds"] = kinds });
            }

            return Task.FromResult(kinds.Count > 0 ? 0 : 1);
        }));
        return command;
    }

    /// <summary>Benchmarks the first accepted sample of every kind that has a verifier.</summary>
    public static IEnumerable<KindResult> Run(IReadOnlyList<HardwareSample> samples, TimeSpan perKind)
    {
        foreach (IHardwareVerifier verifier in HardwareVerifiers.All)
        {
            HardwareSample? sample = samples.FirstOrDefault(s => s.ExpectAccept && s.Kind == verifier.Kind);
            if (sample is null)
            {
                continue;
            }

            yield return Measure(verifier, sample, perKind);
        }
    }

    private static KindResult Measure(IHardwareVerifier verifier, HardwareSample sample, TimeSpan duration)
    {
        HardwareVerificationReport first = verifier.Verify(sample.Evidence, sample.Endorsements, sample.At);
        if (!first.Verified)
        {
            throw new BenchException($"{sample.Name} does not verify: {string.Join("; ", first.Errors)}");
        }

        Func<bool> crypto = verifier is ISignatureWorkload workload
            ? workload.CreateSignatureWorkload(sample.Evidence, sample.Endorsements, sample.At)
            : throw new BenchException($"the {verifier.Kind} verifier does not describe its signature checks");
        if (!crypto())
        {
            throw new BenchException($"the {verifier.Kind} signature workload does not verify {sample.Name}");
        }

        // Warm up both paths (JIT, caches), then interleave rounds of each until the time is spent.
        for (int i = 0; i < 50; i++)
        {
            verifier.Verify(sample.Evidence, sample.Endorsements, sample.At);
            crypto();
        }

        List<double> latencies = [];
        long verifyTicks = 0;
        long cryptoTicks = 0;
        long cryptoCalls = 0;
        var total = Stopwatch.StartNew();
        while (total.Elapsed < duration)
        {
            for (int i = 0; i < 20; i++)
            {
                long start = Stopwatch.GetTimestamp();
                HardwareVerificationReport report = verifier.Verify(sample.Evidence, sample.Endorsements, sample.At);
                long elapsed = Stopwatch.GetTimestamp() - start;
                if (!report.Verified)
                {
                    throw new BenchException($"{sample.Name} stopped verifying: {string.Join("; ", report.Errors)}");
                }

                verifyTicks += elapsed;
                latencies.Add(elapsed * 1000.0 / Stopwatch.Frequency);
            }

            long cryptoStart = Stopwatch.GetTimestamp();
            for (int i = 0; i < 20; i++)
            {
                crypto();
            }

            cryptoTicks += Stopwatch.GetTimestamp() - cryptoStart;
            cryptoCalls += 20;
        }

        latencies.Sort();
        double verifySeconds = (double)verifyTicks / Stopwatch.Frequency;
        double perVerify = verifySeconds / latencies.Count;
        double perCrypto = (double)cryptoTicks / Stopwatch.Frequency / cryptoCalls;
        return new KindResult(
            verifier.Kind,
            sample.Name,
            latencies.Count / verifySeconds,
            Percentile(latencies, 0.50),
            Percentile(latencies, 0.99),
            perCrypto / perVerify,
            latencies.Count);
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string FindDefaultSamples()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "tests", "AttestationVerifier.Tests", "TestData");
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new BenchException("no evidence samples found; pass --samples DIR (for example ../shared/vectors)");
    }

    internal sealed record KindResult(string Kind, string Sample, double PerSecond, double P50Ms, double P99Ms, double CryptoBoundRatio, int Verifications)
    {
        public JsonObject ToJson() => new()
        {
            ["kind"] = Kind,
            ["perSecond"] = Math.Round(PerSecond, 1),
            ["p99Ms"] = Math.Round(P99Ms, 3),
            ["cryptoBoundRatio"] = Math.Round(CryptoBoundRatio, 3),
            ["p50Ms"] = Math.Round(P50Ms, 3),
            ["sample"] = Sample,
            ["verifications"] = Verifications,
        };
    }
}
