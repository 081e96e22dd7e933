using Enclave.SecureAggregation.Staged;

namespace Enclave.SecureAggregation.Tests.Staged;

public sealed class ParameterAndGraphTests
{
    [Theory]
    [InlineData(10, 0.3, 0.05)]
    [InlineData(100, 0.1, 0.05)]
    [InlineData(1000, 0.3, 0.05)]
    [InlineData(20000, 0.1, 0.01)]
    public void DerivedThresholdsSurviveTheDropoutsAndExceedTheCorruption(int n, double dropout, double corruption)
    {
        SecAggParameters p = SecAggParameters.Derive(n, dropout, corruption);
        Assert.True(p.Threshold < p.ShareCount);
        Assert.True(p.Threshold > p.CorruptionBound);
        Assert.True(2 * p.Threshold > p.ShareCount + p.CorruptionBound);
        Assert.True(p.Threshold <= p.ShareCount - p.DropoutBound);
        Assert.True(p.DropoutBound >= dropout * p.ShareCount);
        Assert.True(p.Degree == n - 1 || p.Degree % 2 == 0);
    }

    [Fact]
    public void LargeCohortsGetASparseGraph()
    {
        SecAggParameters p = SecAggParameters.Derive(20000, 0.1, 0.01);
        Assert.False(p.IsComplete);
        Assert.True(p.Degree < 2000, $"degree {p.Degree}");
    }

    [Fact]
    public void ImpossibleOrUnsafeParametersAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Derive(100, 0.6, 0.05));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Derive(2, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Derive(10, -0.1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Explicit(10, 9, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Explicit(10, 8, 9));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Explicit(10, 9, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Explicit(10, 9, 7, corruptionBound: 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Explicit(10, 3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => SecAggParameters.Explicit(10, 10, 6));
        Assert.Equal(6, SecAggParameters.Explicit(10, 9, 6).Threshold);
    }

    [Fact]
    public void HararyGraphIsRegularSymmetricAndFixedByItsSeed()
    {
        SecAggParameters p = SecAggParameters.Explicit(50, 8, 6);
        byte[] seed = [.. Enumerable.Range(0, 32).Select(i => (byte)i)];
        var graph = new NeighbourGraph(p, seed);
        var again = new NeighbourGraph(p, seed);
        var other = new NeighbourGraph(p, new byte[32]);
        bool differs = false;
        for (int u = 1; u <= 50; u++)
        {
            int[] nb = graph.NeighboursOf(u);
            Assert.Equal(8, nb.Distinct().Count());
            Assert.DoesNotContain(u, nb);
            Assert.Equal(nb, again.NeighboursOf(u));
            differs |= !nb.SequenceEqual(other.NeighboursOf(u));
            foreach (int v in nb)
            {
                Assert.Contains(u, graph.NeighboursOf(v));
                Assert.True(graph.AreNeighbours(u, v));
            }
        }

        Assert.True(differs, "another seed gives another graph");
    }
}
