// The open-loop schedule of `enclave bench broker --rate R`: release i (counting over all clients) is due at
// i / R seconds after the start and belongs to client i mod clients. One thread of its own hands each release to
// its client when it falls due, never before, so an early wake-up cannot shorten a measured latency and a late
// one is counted (latency runs from the due time). Per-client timers would not do: a timer continuation waits
// in the thread pool behind the broker's own work, and on two busy cores that put several milliseconds of the
// load generator's lateness into the broker's p99 (and .NET timers, rounding to whole milliseconds, also fired
// early). This thread sleeps with nanosleep(2) on Linux, late by the kernel's timer slack (50 µs) plus the wake-up,
// and elsewhere in whole milliseconds rounded up; how late it actually was is recorded (LagPercentile) and
// reported beside the latencies, so a reader can see how much of them is the generator's.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace Enclave.Cli.Bench;

internal sealed class OpenLoopPacer : IDisposable
{
    private readonly Channel<TimeSpan>[] _clients;
    private readonly double _rate;
    private readonly TimeSpan _duration;
    private readonly Stopwatch _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private readonly List<double> _lagMs = new(4096);
    private bool _disposed;

    /// <param name="clients">Clients the releases are spread over, round robin.</param>
    /// <param name="rate">Releases due per second in all.</param>
    /// <param name="duration">No release is due at or after this time.</param>
    /// <param name="clock">The clock due times are measured on; it must already be running.</param>
    public OpenLoopPacer(int clients, double rate, TimeSpan duration, Stopwatch clock)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rate);
        ArgumentNullException.ThrowIfNull(clock);
        _clients = [.. Enumerable.Range(0, clients).Select(_ => Channel.CreateUnbounded<TimeSpan>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = true }))];
        _rate = rate;
        _duration = duration;
        _clock = clock;
        _thread = new Thread(Run) { IsBackground = true, Name = "bench pacer" };
    }

    /// <summary>The due times of one client's releases, each delivered once it is due; completed after the last.</summary>
    public ChannelReader<TimeSpan> For(int client) => _clients[client].Reader;

    public void Start() => _thread.Start();

    /// <summary>Waits until every release has been handed out (or the pacer was disposed).</summary>
    public void Join() => _thread.Join();

    /// <summary>How late the pacer handed out releases, in milliseconds (call after <see cref="Join"/>).</summary>
    public double LagPercentile(double p)
    {
        if (_thread.IsAlive)
        {
            throw new InvalidOperationException("The pacer is still running.");
        }

        return Percentiles.Of([.. _lagMs.Order()], p);
    }

    /// <summary>Stops handing out releases; the clients' readers complete.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stop.Cancel();
        if (_thread.IsAlive)
        {
            _thread.Join();
        }

        _stop.Dispose();
    }

    /// <summary>The longest single sleep, so that <see cref="Dispose"/> is noticed promptly.</summary>
    private static readonly TimeSpan MaxSleep = TimeSpan.FromMilliseconds(20);

    private static void Sleep(TimeSpan span)
    {
        if (OperatingSystem.IsLinux())
        {
            var request = new TimeSpec { Seconds = 0, Nanoseconds = span.Ticks * 100 };
            _ = NanoSleep(ref request, IntPtr.Zero); // woken early by a signal: the caller's loop sleeps again
        }
        else
        {
            Thread.Sleep((int)Math.Ceiling(span.TotalMilliseconds));
        }
    }

    // DllImport rather than LibraryImport: the signature is blittable and needs no unsafe code in this project.
#pragma warning disable SYSLIB1054
    [DllImport("libc", EntryPoint = "nanosleep")]
    private static extern int NanoSleep(ref TimeSpec request, IntPtr remaining);
#pragma warning restore SYSLIB1054

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private void Run()
    {
        try
        {
            for (long i = 0; !_stop.IsCancellationRequested; i++)
            {
                TimeSpan due = TimeSpan.FromSeconds(i / _rate);
                if (due >= _duration)
                {
                    break;
                }

                for (TimeSpan early = due - _clock.Elapsed; early > TimeSpan.Zero; early = due - _clock.Elapsed)
                {
                    if (_stop.IsCancellationRequested)
                    {
                        return;
                    }

                    Sleep(early < MaxSleep ? early : MaxSleep);
                }

                _lagMs.Add((_clock.Elapsed - due).TotalMilliseconds);
                _clients[i % _clients.Length].Writer.TryWrite(due);
            }
        }
        finally
        {
            foreach (Channel<TimeSpan> channel in _clients)
            {
                channel.Writer.TryComplete();
            }
        }
    }
}

/// <summary>Nearest-rank percentiles of sorted samples.</summary>
internal static class Percentiles
{
    public static double Of(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
