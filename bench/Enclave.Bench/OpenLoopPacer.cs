// The open-loop schedule of `scripts/bench.sh broker --rate R`: release i (counting over all clients) is due at
// i / R seconds after the start and belongs to client i mod clients. One thread of its own hands each release to
// its client when it falls due, never before, so an early wake-up cannot shorten a measured latency and a late
// one is counted (latency runs from the due time). Per-client timers would not do: a timer continuation waits
// in the thread pool behind the broker's own work, and on two busy cores that put several milliseconds of the
// load generator's lateness into the broker's p99 (and .NET timers, rounding to whole milliseconds, also fired
// early). This thread sleeps with nanosleep(2) on Linux, late by the kernel's timer slack (50 µs) plus the wake-up,
// and elsewhere in whole milliseconds rounded up; how late it actually was is recorded (LagPercentile) and
// reported beside the latencies, so a reader can see how much of them is the generator's. It keeps counts and a
// histogram, not a queue or a list per release, so a rate far above what the broker takes costs no memory.
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Enclave.Bench;

internal sealed class OpenLoopPacer : IDisposable
{
    // Per client: releases handed out by the pacer and taken by the client, and a signal for a waiting client. Only
    // counts are kept, so a client far behind (a rate above what the broker can take) costs no memory per release.
    private readonly long[] _handed;
    private readonly long[] _taken;
    private readonly SemaphoreSlim[] _signals;
    private readonly double _rate;
    private readonly TimeSpan _duration;
    private readonly Stopwatch _clock;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;

    // How late each release was handed out, in LagBucket steps up to LagBuckets of them (the last holds all later).
    private static readonly TimeSpan LagBucket = TimeSpan.FromMicroseconds(10);
    private const int LagBuckets = 100_000;
    private readonly long[] _lag = new long[LagBuckets + 1];
    private long _lagCount;
    private volatile bool _finished;
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
        _handed = new long[clients];
        _taken = new long[clients];
        _signals = [.. Enumerable.Range(0, clients).Select(_ => new SemaphoreSlim(0))];
        _rate = rate;
        _duration = duration;
        _clock = clock;
        _thread = new Thread(Run) { IsBackground = true, Name = "bench pacer" };
    }

    public void Start() => _thread.Start();

    /// <summary>When client <paramref name="client"/>'s next release was due, once it is due (at once if it already
    /// was); null when the schedule is over. One caller per client at a time.</summary>
    public async ValueTask<TimeSpan?> NextAsync(int client, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            bool finished = _finished;
            long taken = _taken[client];
            if (taken < Interlocked.Read(ref _handed[client]))
            {
                _taken[client] = taken + 1;
                return Due((taken * _handed.Length) + client);
            }

            if (finished)
            {
                return null;
            }

            await _signals[client].WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits until every release has been handed out (or the pacer was disposed).</summary>
    public void Join() => _thread.Join();

    /// <summary>How late the pacer handed out releases, in milliseconds, to 10 µs (call after <see cref="Join"/>).</summary>
    public double LagPercentile(double p)
    {
        if (_thread.IsAlive)
        {
            throw new InvalidOperationException("The pacer is still running.");
        }

        long rank = Math.Max(1, (long)Math.Ceiling(p * _lagCount));
        long seen = 0;
        for (int bucket = 0; bucket <= LagBuckets; bucket++)
        {
            seen += _lag[bucket];
            if (seen >= rank)
            {
                return (LagBucket * (bucket + 1)).TotalMilliseconds;
            }
        }

        return 0;
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
        foreach (SemaphoreSlim signal in _signals)
        {
            signal.Dispose();
        }
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

    private TimeSpan Due(long index) => TimeSpan.FromSeconds(index / _rate);

    private void Run()
    {
        try
        {
            for (long i = 0; !_stop.IsCancellationRequested; i++)
            {
                TimeSpan due = Due(i);
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

                _lag[Math.Min((_clock.Elapsed - due).Ticks / LagBucket.Ticks, LagBuckets)]++;
                _lagCount++;
                int client = (int)(i % _handed.Length);
                Interlocked.Increment(ref _handed[client]);
                Wake(client);
            }
        }
        finally
        {
            _finished = true;
            for (int client = 0; client < _signals.Length; client++)
            {
                Wake(client);
            }
        }
    }

    /// <summary>Wakes the client if it may be waiting (a client re-checks the counts before it waits, so at most a
    /// spare wake-up or two are pending, never one per release).</summary>
    private void Wake(int client)
    {
        if (_signals[client].CurrentCount == 0)
        {
            _signals[client].Release();
        }
    }
}
