using Enclave.Aggregator.Data;

namespace Enclave.Aggregator.Tests;

public sealed class PartitionTests
{
    // 1,000 examples, 100 of each of 10 classes, in a fixed shuffled order as Fashion-MNIST's are.
    private static readonly byte[] s_labels = Shuffled();

    private static byte[] Shuffled()
    {
        byte[] labels = [.. Enumerable.Range(0, 1000).Select(i => (byte)(i % 10))];
        new Random(7).Shuffle(labels);
        return labels;
    }

    [Theory]
    [InlineData("iid")]
    [InlineData("dirichlet:0.3")]
    [InlineData("dirichlet:100")]
    [InlineData("shards:2")]
    public void Every_example_goes_to_exactly_one_region_and_the_split_repeats(string text)
    {
        Partition partition = Partition.Parse(text);

        List<int>[] regions = [.. Enumerable.Range(0, 5).Select(r => partition.Indices(s_labels, r, 5, null))];
        List<int>[] again = [.. Enumerable.Range(0, 5).Select(r => partition.Indices(s_labels, r, 5, null))];

        int[] all = [.. regions.SelectMany(r => r)];
        Assert.Equal(all.Length, all.Distinct().Count());
        Assert.Equal(1000, all.Length);
        Assert.Equal(regions.Select(r => r.ToArray()), again.Select(r => r.ToArray()));
        Assert.Equal(text, partition.ToString());
    }

    [Fact]
    public void Non_iid_splits_concentrate_classes_and_iid_does_not()
    {
        static int ClassesHeld(Partition p) => p.Indices(s_labels, 0, 5, null).Select(i => s_labels[i]).Distinct().Count();
        static double LargestClassShare(Partition p)
        {
            List<int> mine = p.Indices(s_labels, 0, 5, null);
            return mine.GroupBy(i => s_labels[i]).Max(g => g.Count()) / (double)mine.Count;
        }

        Assert.Equal(10, ClassesHeld(Partition.Iid));
        Assert.InRange(LargestClassShare(Partition.Iid), 0.1, 0.2);
        Assert.InRange(ClassesHeld(Partition.Parse("shards:2")), 1, 2);
        Assert.True(LargestClassShare(Partition.Parse("dirichlet:0.1")) > 0.3);
    }

    [Fact]
    public void A_limit_takes_the_first_examples_of_the_region()
    {
        Assert.Equal(Partition.Iid.Indices(s_labels, 1, 3, null).Take(7), Partition.Iid.Indices(s_labels, 1, 3, 7));
        Assert.Equal(FashionMnist.ShardIndices(1000, 1, 3, 7), Partition.Iid.Indices(s_labels, 1, 3, 7));
    }

    [Theory]
    [InlineData("")]
    [InlineData("dirichlet")]
    [InlineData("dirichlet:0")]
    [InlineData("dirichlet:-1")]
    [InlineData("dirichlet:abc")]
    [InlineData("shards:0")]
    [InlineData("shards:1.5")]
    [InlineData("noniid")]
    public void Anything_else_is_refused_naming_the_forms(string text)
    {
        Assert.Contains("dirichlet:ALPHA", Assert.Throws<FormatException>(() => Partition.Parse(text)).Message);
    }
}
