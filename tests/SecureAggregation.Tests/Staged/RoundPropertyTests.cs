using Enclave.SecureAggregation.Staged;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Enclave.SecureAggregation.Tests.Staged;

public sealed class RoundPropertyTests
{
    /// <summary>Shape of one random round; the rest is drawn from <see cref="Seed"/>.</summary>
    public sealed record Shape(int Clients, bool Sparse, int DegreeChoice, int ThresholdChoice, int RingBits, int Length, int Seed, int DropChoice)
    {
        public SecAggParameters Parameters()
        {
            int degree = Sparse && Clients >= 4 ? 2 * (1 + (DegreeChoice % ((Clients - 2) / 2))) : Clients - 1;
            int m = degree + 1;
            int low = (m / 2) + 1;
            int threshold = low + (ThresholdChoice % (m - low));
            return SecAggParameters.Explicit(Clients, degree, threshold);
        }

        public override string ToString() =>
            $"n={Clients} sparse={Sparse} k={Parameters().Degree} t={Parameters().Threshold} ring={RingBits} length={Length} seed={Seed} drops={DropChoice}";
    }

    public static Arbitrary<Shape> Shapes() =>
        (from n in Gen.Choose(3, 40)
         from sparse in Gen.Elements(true, false)
         from degree in Gen.Choose(0, 1000)
         from threshold in Gen.Choose(0, 1000)
         from ring in Gen.Choose(16, 32)
         from length in Gen.Choose(1, 200)
         from seed in Gen.Choose(0, int.MaxValue)
         from drops in Gen.Choose(0, 1000)
         select new Shape(n, sparse, degree, threshold, ring, length, seed, drops)).ToArbitrary();

    [Property(MaxTest = 25, Replay = "(20261123,1234567)")]
    public Property DropoutsWithinTheThresholdAtAnyStageLeaveTheExactSumOfSurvivors() =>
        Prop.ForAll(Shapes(), shape =>
        {
            SecAggParameters p = shape.Parameters();
            var random = new Random(shape.Seed);
            int allowed = Math.Min(p.ShareCount - p.Threshold, p.CohortSize - 1);
            int[] drop = DropPlan(random, p.CohortSize, shape.DropChoice % (allowed + 1));
            uint[][] inputs = Inputs(random, p.CohortSize, shape.Length, shape.RingBits);
            using Cohort cohort = Cohort.Create(p, shape.Length, shape.RingBits, graphSeed: SeedBytes(random));
            SecAggResult result = cohort.Run(inputs, drop);
            int[] survivors = [.. Enumerable.Range(1, p.CohortSize).Where(i => drop[i - 1] == 0 || drop[i - 1] > 3)];
            return result.Sum.SequenceEqual(Cohort.ExpectedSum(inputs, drop, shape.RingBits)) && result.Survivors.SequenceEqual(survivors);
        });

    [Property(MaxTest = 20, Replay = "(20261124,7654321)")]
    public Property LosingMoreThanTheThresholdOfOneNeighbourhoodAbortsTheRound() =>
        Prop.ForAll(Shapes(), shape =>
        {
            SecAggParameters p = shape.Parameters();
            var random = new Random(shape.Seed);
            using Cohort cohort = Cohort.Create(p, shape.Length, shape.RingBits, graphSeed: SeedBytes(random));
            int victim = 1 + random.Next(p.CohortSize);
            int[] neighbours = cohort.Round.Graph.NeighboursOf(victim);
            int[] drop = new int[p.CohortSize];
            int stage = 1 + random.Next(5);
            foreach (int v in neighbours.OrderBy(_ => random.Next()).Take(p.ShareCount - p.Threshold + 1))
            {
                drop[v - 1] = stage;
            }

            uint[][] inputs = Inputs(random, p.CohortSize, shape.Length, shape.RingBits);
            var ex = Assert.Throws<SecAggException>(() => cohort.Run(inputs, drop));
            return ex.Code == SecAggErrorCode.BelowThreshold && cohort.Server.IsAborted;
        });

    [Property(MaxTest = 20, Replay = "(20261125,3141593)")]
    public Property AnyDropoutPatternEitherSumsExactlyOrAbortsCleanly() =>
        Prop.ForAll(Shapes(), shape =>
        {
            SecAggParameters p = shape.Parameters();
            var random = new Random(shape.Seed);
            int[] drop = DropPlan(random, p.CohortSize, shape.DropChoice % p.CohortSize);
            uint[][] inputs = Inputs(random, p.CohortSize, shape.Length, shape.RingBits);
            using Cohort cohort = Cohort.Create(p, shape.Length, shape.RingBits, graphSeed: SeedBytes(random));
            try
            {
                SecAggResult result = cohort.Run(inputs, drop);
                return result.Sum.SequenceEqual(Cohort.ExpectedSum(inputs, drop, shape.RingBits));
            }
            catch (SecAggException ex)
            {
                int dropped = drop.Count(d => d != 0);
                return ex.Code == SecAggErrorCode.BelowThreshold && dropped > p.ShareCount - p.Threshold;
            }
        });

    private static int[] DropPlan(Random random, int n, int count)
    {
        var drop = new int[n];
        foreach (int i in Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(count))
        {
            drop[i] = 1 + random.Next(5);
        }

        return drop;
    }

    private static uint[][] Inputs(Random random, int n, int length, int ringBits)
    {
        uint mask = ringBits == 32 ? uint.MaxValue : (1u << ringBits) - 1;
        return [.. Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, length).Select(_ => (uint)random.NextInt64(0, 1L << 32) & mask).ToArray())];
    }

    private static byte[] SeedBytes(Random random)
    {
        var seed = new byte[32];
        random.NextBytes(seed);
        return seed;
    }
}
