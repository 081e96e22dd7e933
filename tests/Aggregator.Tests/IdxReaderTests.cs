using System.Buffers.Binary;
using System.IO.Compression;
using Enclave.Aggregator.Data;

namespace Enclave.Aggregator.Tests;

public sealed class IdxReaderTests : IDisposable
{
    private const string Dir = FashionMnist.DefaultDirectory;

    private readonly string _folder = Directory.CreateTempSubdirectory("enclave-idx-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void ReadsTheRealTrainingImages()
    {
        (byte[] pixels, int count, int rows, int cols) = IdxReader.ReadImages(Path.Combine(Dir, "train-images-idx3-ubyte.gz"));

        Assert.Equal(60_000, count);
        Assert.Equal(28, rows);
        Assert.Equal(28, cols);
        Assert.Equal(60_000 * 784, pixels.Length);
        Assert.Contains(pixels, p => p == 255);
    }

    [Fact]
    public void ReadsTheRealTestFiles()
    {
        (byte[] pixels, int count, int rows, int cols) = IdxReader.ReadImages(Path.Combine(Dir, "t10k-images-idx3-ubyte.gz"));
        byte[] labels = IdxReader.ReadLabels(Path.Combine(Dir, "t10k-labels-idx1-ubyte.gz"));

        Assert.Equal(10_000, count);
        Assert.Equal((28, 28), (rows, cols));
        Assert.Equal(10_000 * 784, pixels.Length);
        Assert.Equal(10_000, labels.Length);
    }

    [Fact]
    public void RealLabelsAreBalancedOverTenClasses()
    {
        byte[] labels = IdxReader.ReadLabels(Path.Combine(Dir, "train-labels-idx1-ubyte.gz"));

        Assert.Equal(60_000, labels.Length);
        var counts = new int[10];
        foreach (byte label in labels)
        {
            Assert.InRange(label, 0, 9);
            counts[label]++;
        }

        Assert.All(counts, c => Assert.Equal(6_000, c));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsCraftedFilesPlainOrCompressed(bool gzip)
    {
        byte[] imageData = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)i).ToArray();
        string images = Write("images", Images(2, 3, 4, imageData), gzip);
        string labels = Write("labels", Labels(3, [7, 0, 9]), gzip);

        (byte[] pixels, int count, int rows, int cols) = IdxReader.ReadImages(images);

        Assert.Equal((2, 3, 4), (count, rows, cols));
        Assert.Equal(imageData, pixels);
        Assert.Equal(new byte[] { 7, 0, 9 }, IdxReader.ReadLabels(labels));
    }

    [Fact]
    public void ReadsEmptyFiles()
    {
        Assert.Equal(0, IdxReader.ReadImages(Write("images", Images(0, 28, 28, []))).Count);
        Assert.Empty(IdxReader.ReadLabels(Write("labels", Labels(0, []))));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RejectsABadMagic(bool gzip)
    {
        string labelsAsImages = Write("a", Labels(1, [1]), gzip);
        string imagesAsLabels = Write("b", Images(1, 1, 1, [1]), gzip);

        Assert.Contains("magic", Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(labelsAsImages)).Message, StringComparison.Ordinal);
        Assert.Contains("magic", Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(imagesAsLabels)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(15)]
    public void RejectsATruncatedImageHeader(int length)
    {
        string path = Write("images", Images(1, 2, 2, [1, 2, 3, 4])[..length]);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path));

        Assert.Contains("header", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RejectsTruncatedData(bool gzip)
    {
        string images = Write("images", Images(3, 2, 2, new byte[12])[..^1], gzip);
        string labels = Write("labels", Labels(5, new byte[5])[..^2], gzip);

        Assert.Contains("truncated", Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(images)).Message, StringComparison.Ordinal);
        Assert.Contains("truncated", Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(labels)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RejectsTrailingBytes(bool gzip)
    {
        string images = Write("images", [.. Images(1, 2, 2, new byte[4]), 0], gzip);
        string labels = Write("labels", [.. Labels(2, [1, 2]), 3, 4], gzip);

        Assert.Contains("trailing", Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(images)).Message, StringComparison.Ordinal);
        Assert.Contains("trailing", Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(labels)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsCountsAboveTheMaximum()
    {
        string images = Write("images", Images(10_000_001, 1, 1, []));
        string labels = Write("labels", Labels(uint.MaxValue, []));

        Assert.Contains("count", Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(images)).Message, StringComparison.Ordinal);
        Assert.Contains("count", Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(labels)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0u, 28u, "rows")]
    [InlineData(1025u, 28u, "rows")]
    [InlineData(28u, 0u, "cols")]
    [InlineData(28u, uint.MaxValue, "cols")]
    public void RejectsImageSidesOutsideTheRange(uint rows, uint cols, string field)
    {
        string path = Write("images", Images(1, rows, cols, []));

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path));

        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAPayloadAboveTheLimit()
    {
        string path = Write("images", Images(10_000_000, 1024, 1024, []));

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path));

        Assert.Contains("limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AForgedSizeWithLittleDataFailsWithoutAllocatingTheClaim()
    {
        string path = Write("images", Images(1000, 1024, 1024, new byte[100]), gzip: true);
        long before = GC.GetAllocatedBytesForCurrentThread();

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.ReadImages(path));

        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L << 20, "the reader allocated the claimed size");
    }

    [Fact]
    public void RejectsCorruptGzip()
    {
        byte[] compressed = Gzip(Labels(1000, new byte[1000]));
        for (int i = 12; i < compressed.Length - 8; i++)
        {
            compressed[i] ^= 0x5a;
        }

        string path = Path.Combine(_folder, "corrupt.gz");
        File.WriteAllBytes(path, compressed);

        Assert.Throws<IdxFormatException>(() => IdxReader.ReadLabels(path));
    }

    [Fact]
    public void AMissingFileIsNotAFormatError()
    {
        Assert.Throws<FileNotFoundException>(() => IdxReader.ReadLabels(Path.Combine(_folder, "absent")));
    }

    internal static byte[] Images(uint count, uint rows, uint cols, byte[] pixels)
    {
        var bytes = new byte[16 + pixels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), count);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), rows);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), cols);
        pixels.CopyTo(bytes, 16);
        return bytes;
    }

    internal static byte[] Labels(uint count, byte[] labels)
    {
        var bytes = new byte[8 + labels.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), count);
        labels.CopyTo(bytes, 8);
        return bytes;
    }

    internal static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private string Write(string name, byte[] data, bool gzip = false)
    {
        string path = Path.Combine(_folder, name + (gzip ? ".gz" : string.Empty));
        File.WriteAllBytes(path, gzip ? Gzip(data) : data);
        return path;
    }
}
