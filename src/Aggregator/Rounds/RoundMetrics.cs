// The coordinator's instruments (System.Diagnostics.Metrics only; the hosting layer exports them). Names are
// stable: dashboards and alerts use them.
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Enclave.Aggregator.Rounds;

internal static class RoundMetrics
{
    public const string MeterName = "Enclave.Aggregator";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Bucket bounds in seconds, from a fast stage (tens of milliseconds) to a slow round (ten minutes).</summary>
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
    };

    private static readonly Counter<long> Rounds = Meter.CreateCounter<long>(
        "enclave.aggregator.rounds", unit: "{round}", description: "Rounds run, by outcome (completed or aborted)");

    private static readonly Histogram<double> RoundDuration = Meter.CreateHistogram<double>(
        "enclave.aggregator.round.duration", unit: "s", description: "Wall time of a round, by outcome", tags: null, advice: Seconds);

    private static readonly Histogram<double> StageDuration = Meter.CreateHistogram<double>(
        "enclave.aggregator.stage.duration", unit: "s", description: "Wall time of a round's stage (prepare, advertise-keys, share-keys, ..., manifest)", tags: null, advice: Seconds);

    private static readonly Counter<long> Dropouts = Meter.CreateCounter<long>(
        "enclave.aggregator.dropouts", unit: "{participant}", description: "Regions dropped from a round, by stage and failure code");

    public static void Round(bool completed, TimeSpan elapsed)
    {
        var outcome = new KeyValuePair<string, object?>("outcome", completed ? "completed" : "aborted");
        Rounds.Add(1, outcome);
        RoundDuration.Record(elapsed.TotalSeconds, outcome);
    }

    public static void Dropout(string stage, string code) =>
        Dropouts.Add(1, new KeyValuePair<string, object?>("stage", stage), new KeyValuePair<string, object?>("code", code));

    /// <summary>Times the stages of the round under way: each stage entered ends the one before it; the empty
    /// stage (no round) ends the last.</summary>
    public sealed class StageClock
    {
        private readonly Lock _lock = new();
        private string _stage = string.Empty;
        private long _started;

        public void Enter(string stage)
        {
            lock (_lock)
            {
                long now = Stopwatch.GetTimestamp();
                if (_stage.Length > 0)
                {
                    StageDuration.Record(Stopwatch.GetElapsedTime(_started, now).TotalSeconds, new KeyValuePair<string, object?>("stage", _stage));
                }

                _stage = stage;
                _started = now;
            }
        }
    }
}
