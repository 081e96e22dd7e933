using System.Diagnostics;
using Enclave.Bench;

namespace Enclave.Bench.Tests;

/// <summary>The open-loop schedule: every release due is handed out once, to its client, never before it is due.</summary>
public sealed class OpenLoopPacerTests
{
    [Fact]
    public async Task Every_release_due_is_handed_to_its_client_in_order_and_never_early()
    {
        var clock = Stopwatch.StartNew();
        using var pacer = new OpenLoopPacer(clients: 3, rate: 200, duration: TimeSpan.FromMilliseconds(300), clock);
        pacer.Start();

        // Each client records when it received each due time; release i is due at i / 200 s, for client i % 3.
        List<(TimeSpan Due, TimeSpan Received)>[] received = [[], [], []];
        await Task.WhenAll(Enumerable.Range(0, 3).Select(c => Task.Run(async () =>
        {
            while (await pacer.NextAsync(c) is { } due)
            {
                received[c].Add((due, clock.Elapsed));
            }
        })));
        pacer.Join();

        // 300 ms at 200/s: releases 0..59 were due, 20 for each client, each exactly once and in order.
        for (int c = 0; c < 3; c++)
        {
            TimeSpan[] expected = [.. Enumerable.Range(0, 20).Select(k => TimeSpan.FromSeconds(((k * 3) + c) / 200.0))];
            Assert.Equal(expected, received[c].Select(r => r.Due));
            Assert.All(received[c], r => Assert.True(r.Received >= r.Due, $"handed out at {r.Received} before it was due at {r.Due}"));
        }

        Assert.True(pacer.LagPercentile(0.5) >= 0);
        Assert.True(pacer.LagPercentile(1.0) >= pacer.LagPercentile(0.5));
    }

    [Fact]
    public async Task Disposing_the_pacer_stops_the_schedule_and_completes_every_client()
    {
        var clock = Stopwatch.StartNew();
        var pacer = new OpenLoopPacer(clients: 2, rate: 10, duration: TimeSpan.FromHours(1), clock);
        pacer.Start();
        Assert.Equal(TimeSpan.Zero, await pacer.NextAsync(0));

        pacer.Dispose();

        // Whatever was already due may still be read; then both readers end, long before the hour is over.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (int c = 0; c < 2; c++)
        {
            while (await pacer.NextAsync(c, timeout.Token) is not null)
            {
            }
        }

        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task A_client_far_behind_the_schedule_takes_every_release_due_in_order_at_once()
    {
        // 20,000 releases due within 100 ms for one client that only starts reading afterwards: each is handed over
        // at once, in order, and the pacer kept counts, not a queue of them.
        var clock = Stopwatch.StartNew();
        using var pacer = new OpenLoopPacer(clients: 1, rate: 200_000, duration: TimeSpan.FromMilliseconds(100), clock);
        pacer.Start();
        pacer.Join();

        long count = 0;
        TimeSpan last = TimeSpan.MinValue;
        while (await pacer.NextAsync(0) is { } due)
        {
            Assert.True(due > last);
            last = due;
            count++;
        }

        Assert.Equal(20_000, count);
        Assert.True(pacer.LagPercentile(1.0) >= pacer.LagPercentile(0.5));
    }

    [Fact]
    public void The_lag_is_only_read_once_the_schedule_is_over()
    {
        using var pacer = new OpenLoopPacer(clients: 1, rate: 1, duration: TimeSpan.FromHours(1), Stopwatch.StartNew());
        pacer.Start();
        Assert.Throws<InvalidOperationException>(() => pacer.LagPercentile(0.99));
    }
}
