using System.Buffers.Binary;
using System.IO.Compression;
using Xunit;

namespace Enclave.Testing;

/// <summary>The first examples of a split of the Debian Fashion-MNIST package, as raw labels and 28 × 28 pixels.</summary>
public static class FashionMnistSample
{
    /// <param name="prefix">"train" or "t10k".</param>
    public static (byte[] Labels, byte[] Pixels) Read(string prefix, int count, int skip = 0)
    {
        byte[] labels = ReadIdxPrefix(Path.Combine(RepositoryPaths.FashionMnist, $"{prefix}-labels-idx1-ubyte.gz"), 8, skip + count);
        byte[] pixels = ReadIdxPrefix(Path.Combine(RepositoryPaths.FashionMnist, $"{prefix}-images-idx3-ubyte.gz"), 16, (skip + count) * 784);
        return (labels[skip..], pixels[(skip * 784)..]);
    }

    private static byte[] ReadIdxPrefix(string path, int headerLength, int length)
    {
        using FileStream file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        var header = new byte[headerLength];
        gzip.ReadExactly(header);
        Assert.True(BinaryPrimitives.ReadUInt32BigEndian(header) is 0x801 or 0x803, $"{path} is not an IDX file");
        var data = new byte[length];
        gzip.ReadExactly(data);
        return data;
    }
}
