using System.Security.Cryptography;
using Enclave.SecureAggregation.Staged;

namespace Enclave.SecureAggregation.Tests.Staged;

public sealed class RegionalAggregatorTests
{
    private const int Length = 64;
    private const int Ring = 28;

    [Fact]
    public void GlobalSumIsTheSumOfRegionalSurvivorsAndOnlyMaskedRegionalSumsCross()
    {
        int[] sizes = [5, 4, 6];
        int[][] drops = [[0, 0, 3, 0, 0], [0, 0, 0, 0], [2, 0, 0, 5, 0, 0]];
        var random = new Random(11);
        uint mask = (1u << Ring) - 1;
        var regionalCohorts = new List<Cohort>();
        var regionalInputs = new List<uint[][]>();
        ECDsa[] aggregatorKeys = [.. sizes.Select(_ => ECDsa.Create(ECCurve.NamedCurves.nistP256))];
        var global = new SecAggRound("global-1", SecAggParameters.Explicit(3, 2, 2), new byte[32], Length, Ring, aggregatorKeys);
        var aggregators = new List<RegionalAggregator>();
        var expected = new uint[Length];
        for (int r = 0; r < sizes.Length; r++)
        {
            int n = sizes[r];
            Cohort cohort = Cohort.Create(SecAggParameters.Explicit(n, n - 1, (n / 2) + 1), Length, Ring, roundId: $"region-{r}");
            regionalCohorts.Add(cohort);
            uint[][] inputs = [.. Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, Length).Select(_ => (uint)random.Next(0, 1000)).ToArray())];
            regionalInputs.Add(inputs);
            uint[] regionalExpected = Cohort.ExpectedSum(inputs, drops[r], Ring);
            for (int j = 0; j < Length; j++)
            {
                expected[j] = (expected[j] + regionalExpected[j]) & mask;
            }

            aggregators.Add(new RegionalAggregator(cohort.Round, global, r + 1, aggregatorKeys[r]));
        }

        var globalServer = new SecAggServer(global);
        foreach (RegionalAggregator a in aggregators)
        {
            globalServer.Receive(Cohort.RoundTrip(a.Global.Advertise()));
        }

        foreach (KeyDirectory d in globalServer.CloseAdvertiseKeys())
        {
            globalServer.Receive(Cohort.RoundTrip(aggregators[d.Recipient - 1].Global.HandleKeys(Cohort.RoundTrip(d))));
        }

        for (int r = 0; r < sizes.Length; r++)
        {
            RunRegion(regionalCohorts[r], aggregators[r], regionalInputs[r], drops[r]);
        }

        var maskedRegional = new List<uint[]>();
        foreach (ShareDelivery d in globalServer.CloseShareKeys())
        {
            MaskedInput masked = aggregators[d.Recipient - 1].MaskRegionalSum(Cohort.RoundTrip(d));
            maskedRegional.Add(masked.Vector);
            globalServer.Receive(Cohort.RoundTrip(masked));
        }

        foreach (SurvivorSet s in globalServer.CloseMaskedInput())
        {
            globalServer.Receive(aggregators[s.Recipient - 1].Global.HandleSurvivors(s));
        }

        foreach (UnmaskRequest q in globalServer.CloseConsistencyCheck())
        {
            globalServer.Receive(aggregators[q.Recipient - 1].Global.HandleUnmask(q));
        }

        SecAggResult result = globalServer.CloseUnmask();
        Assert.Equal(expected, result.Sum);
        Assert.Equal([1, 2, 4, 5], aggregators[0].RegionalSurvivors);

        // What crossed the region boundary is masked: it is not the regional sum.
        for (int r = 0; r < sizes.Length; r++)
        {
            uint[] plain = Cohort.ExpectedSum(regionalInputs[r], drops[r], Ring);
            Assert.True(maskedRegional[r].Zip(plain).Count(p => p.First == p.Second) < Length / 10);
        }

        foreach (Cohort c in regionalCohorts)
        {
            c.Dispose();
        }

        foreach (RegionalAggregator a in aggregators)
        {
            a.Dispose();
        }
    }

    [Fact]
    public void RegionalSumIsNotSentBeforeTheRegionCompletes()
    {
        using Cohort cohort = Cohort.Create(SecAggParameters.Explicit(3, 2, 2), Length, Ring, roundId: "region-x");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var global = new SecAggRound("global-x", SecAggParameters.Explicit(3, 2, 2), new byte[32], Length, Ring, [key, key, key]);
        using var aggregator = new RegionalAggregator(cohort.Round, global, 1, key);
        Assert.Throws<InvalidOperationException>(() => aggregator.MaskRegionalSum(new ShareDelivery("global-x", 1, [])));
        var mismatched = new SecAggRound("global-y", SecAggParameters.Explicit(3, 2, 2), new byte[32], Length, 32, [key, key, key]);
        Assert.Throws<ArgumentException>(() => new RegionalAggregator(cohort.Round, mismatched, 1, key));
    }

    private static void RunRegion(Cohort cohort, RegionalAggregator aggregator, uint[][] inputs, int[] drop)
    {
        SecAggServer server = aggregator.Regional;
        bool Live(int i, int stage) => drop[i - 1] == 0 || drop[i - 1] > stage;
        foreach (SecAggClient c in cohort.Clients.Where(c => Live(c.Self, 1)))
        {
            server.Receive(c.Advertise());
        }

        foreach (KeyDirectory d in server.CloseAdvertiseKeys().Where(d => Live(d.Recipient, 2)))
        {
            server.Receive(cohort.Clients[d.Recipient - 1].HandleKeys(d));
        }

        foreach (ShareDelivery d in server.CloseShareKeys().Where(d => Live(d.Recipient, 3)))
        {
            server.Receive(cohort.Clients[d.Recipient - 1].HandleShares(d, inputs[d.Recipient - 1]));
        }

        foreach (SurvivorSet s in server.CloseMaskedInput().Where(s => Live(s.Recipient, 4)))
        {
            server.Receive(cohort.Clients[s.Recipient - 1].HandleSurvivors(s));
        }

        foreach (UnmaskRequest q in server.CloseConsistencyCheck().Where(q => Live(q.Recipient, 5)))
        {
            server.Receive(cohort.Clients[q.Recipient - 1].HandleUnmask(q));
        }

        aggregator.CompleteRegion();
    }
}
