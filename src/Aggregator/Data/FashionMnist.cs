namespace Enclave.Aggregator.Data;

/// <summary>
/// Loads Fashion-MNIST (28×28 grey images, 10 classes) from its four IDX files, gzip-compressed
/// (<c>train-images-idx3-ubyte.gz</c>, …) or plain (the same names without <c>.gz</c>).
/// </summary>
public static class FashionMnist
{
    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Image side length.</summary>
    public const int Side = 28;

    /// <summary>The 60,000 training examples.</summary>
    /// <exception cref="IdxFormatException">A file is malformed or the two files disagree.</exception>
    public static (byte[] Pixels, byte[] Labels, int Count) LoadTrain(string dir) => Load(dir, "train");

    /// <summary>The 10,000 test examples.</summary>
    /// <exception cref="IdxFormatException">A file is malformed or the two files disagree.</exception>
    public static (byte[] Pixels, byte[] Labels, int Count) LoadTest(string dir) => Load(dir, "t10k");

    /// <summary>The examples of shard <paramref name="shard"/> of <paramref name="shards"/>: every shards-th example
    /// from the shard's index, at most <paramref name="limit"/> of them (the demo's disjoint, label-balanced split).</summary>
    public static List<int> ShardIndices(int count, int shard, int shards, int? limit)
    {
        var indices = new List<int>();
        for (int i = shard; i < count && (limit is null || indices.Count < limit); i += shards)
        {
            indices.Add(i);
        }

        return indices;
    }

    private static (byte[] Pixels, byte[] Labels, int Count) Load(string dir, string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        string imagesPath = Locate(dir, $"{prefix}-images-idx3-ubyte");
        string labelsPath = Locate(dir, $"{prefix}-labels-idx1-ubyte");
        (byte[] pixels, int count, int rows, int cols) = IdxReader.ReadImages(imagesPath);
        if (rows != Side || cols != Side)
        {
            throw new IdxFormatException($"Fashion-MNIST images in '{imagesPath}' are {rows}x{cols}, not {Side}x{Side}.");
        }

        byte[] labels = IdxReader.ReadLabels(labelsPath);
        if (labels.Length != count)
        {
            throw new IdxFormatException(
                $"Fashion-MNIST '{imagesPath}' holds {count} images but '{labelsPath}' holds {labels.Length} labels.");
        }

        int bad = labels.AsSpan().IndexOfAnyInRange((byte)10, byte.MaxValue);
        if (bad >= 0)
        {
            throw new IdxFormatException($"Fashion-MNIST '{labelsPath}': label {bad} is {labels[bad]}, not 0..9.");
        }

        return (pixels, labels, count);
    }

    private static string Locate(string dir, string name)
    {
        string compressed = Path.Combine(dir, name + ".gz");
        if (File.Exists(compressed))
        {
            return compressed;
        }

        string plain = Path.Combine(dir, name);
        if (File.Exists(plain))
        {
            return plain;
        }

        throw new FileNotFoundException($"Fashion-MNIST file '{compressed}' (or '{plain}') does not exist.", compressed);
    }
}
