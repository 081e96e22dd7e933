// How the demo and the benchmarks split Fashion-MNIST's training set into disjoint regional datasets:
//   iid              every n-th example from the region's index (label-balanced, the default)
//   dirichlet:ALPHA  per class, the class's examples go to the regions in proportions drawn from Dir(ALPHA)
//                    (small ALPHA: each region holds a few classes mostly; large ALPHA: close to iid)
//   shards:K         sorted by label and cut into regions·K equal shards, K to each region (McMahan et al.'s
//                    pathological non-IID split: each region sees about K classes)
// Every split is a pure function of the labels, the region count and the seed, so the confidential and the plain
// runs of a benchmark train on exactly the same examples.
using System.Globalization;

namespace Enclave.Aggregator.Data;

public sealed record Partition(string Kind, double Alpha = 0, int ShardsPerRegion = 0)
{
    public static Partition Iid { get; } = new("iid");

    /// <exception cref="FormatException">Not iid, dirichlet:ALPHA (ALPHA in (0, 1000]) or shards:K (K in 1..100).</exception>
    public static Partition Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text == "iid")
        {
            return Iid;
        }

        if (text.StartsWith("dirichlet:", StringComparison.Ordinal)
            && double.TryParse(text.AsSpan("dirichlet:".Length), NumberStyles.Float, CultureInfo.InvariantCulture, out double alpha)
            && alpha > 0 && alpha <= 1000)
        {
            return new Partition("dirichlet", Alpha: alpha);
        }

        if (text.StartsWith("shards:", StringComparison.Ordinal)
            && int.TryParse(text.AsSpan("shards:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k is >= 1 and <= 100)
        {
            return new Partition("shards", ShardsPerRegion: k);
        }

        throw new FormatException($"\"{text}\" is not a partition: iid, dirichlet:ALPHA (0 < ALPHA <= 1000) or shards:K (1 <= K <= 100)");
    }

    public override string ToString() => Kind switch
    {
        "dirichlet" => string.Create(CultureInfo.InvariantCulture, $"dirichlet:{Alpha}"),
        "shards" => string.Create(CultureInfo.InvariantCulture, $"shards:{ShardsPerRegion}"),
        _ => Kind,
    };

    /// <summary>The indices of region <paramref name="region"/>'s examples, at most <paramref name="limit"/>.</summary>
    public List<int> Indices(ReadOnlySpan<byte> labels, int region, int regions, int? limit, ulong seed = 20261208)
    {
        if (regions < 1 || region < 0 || region >= regions)
        {
            throw new ArgumentOutOfRangeException(nameof(region), $"region {region} of {regions} does not exist");
        }

        List<int> all = Kind switch
        {
            "dirichlet" => Dirichlet(labels, region, regions, seed),
            "shards" => Shards(labels, region, regions, seed),
            _ => FashionMnist.ShardIndices(labels.Length, region, regions, null),
        };
        return limit is { } l && all.Count > l ? all[..l] : all;
    }

    private List<int> Dirichlet(ReadOnlySpan<byte> labels, int region, int regions, ulong seed)
    {
        var random = new Random(unchecked((int)seed));
        var mine = new List<int>();
        foreach (IGrouping<byte, int> group in ByClass(labels))
        {
            // Proportions ~ Dir(alpha) as normalised Gamma(alpha, 1) draws; the class's examples are cut at the
            // cumulative proportions, so every example goes to exactly one region.
            double[] g = [.. Enumerable.Range(0, regions).Select(_ => Gamma(random, Alpha))];
            double total = g.Sum();
            int[] members = [.. group];
            int start = (int)Math.Round(members.Length * g.Take(region).Sum() / total);
            int end = (int)Math.Round(members.Length * g.Take(region + 1).Sum() / total);
            mine.AddRange(members[start..end]);
        }

        mine.Sort();
        return mine;
    }

    private List<int> Shards(ReadOnlySpan<byte> labels, int region, int regions, ulong seed)
    {
        int[] byLabel = [.. ByClass(labels).SelectMany(g => g)];
        int count = regions * ShardsPerRegion;
        int size = byLabel.Length / count;
        int[] order = [.. Enumerable.Range(0, count)];
        new Random(unchecked((int)seed)).Shuffle(order);
        var mine = new List<int>();
        for (int s = region * ShardsPerRegion; s < (region + 1) * ShardsPerRegion; s++)
        {
            mine.AddRange(byLabel.AsSpan(order[s] * size, size).ToArray());
        }

        mine.Sort();
        return mine;
    }

    private static IEnumerable<IGrouping<byte, int>> ByClass(ReadOnlySpan<byte> labels)
    {
        byte[] copy = labels.ToArray();
        return Enumerable.Range(0, copy.Length).GroupBy(i => copy[i]).OrderBy(g => g.Key);
    }

    // Marsaglia and Tsang's method (with the alpha < 1 boost), from a seeded generator so splits repeat exactly.
    private static double Gamma(Random random, double alpha)
    {
        if (alpha < 1)
        {
            return Gamma(random, alpha + 1) * Math.Pow(random.NextDouble(), 1 / alpha);
        }

        double d = alpha - (1.0 / 3), c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                // Box-Muller normal.
                x = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                v = 1 + (c * x);
            }
            while (v <= 0);

            v = v * v * v;
            double u = random.NextDouble();
            if (u < 1 - (0.0331 * x * x * x * x) || Math.Log(u) < (0.5 * x * x) + (d * (1 - v + Math.Log(v))))
            {
                return d * v;
            }
        }
    }
}
