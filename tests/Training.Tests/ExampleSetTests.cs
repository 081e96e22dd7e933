using System.Buffers.Binary;

namespace Enclave.Training.Tests;

public sealed class ExampleSetTests
{
    [Fact]
    public void ParsesLabelsAndPixelsSeparately()
    {
        byte[] bytes = Build(count: 3, rows: 2, cols: 3, (i, p) => (byte)((i * 10) + p), i => (byte)(i + 4));

        ExampleSet set = ExampleSet.Parse(bytes);

        Assert.Equal(3, set.Count);
        Assert.Equal(2, set.Rows);
        Assert.Equal(3, set.Cols);
        Assert.Equal(6, set.PixelsPerExample);
        Assert.Equal(new byte[] { 4, 5, 6 }, set.Labels.ToArray());
        Assert.Equal(
            new byte[] { 0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25 },
            set.Pixels.ToArray());
        Assert.Equal(bytes, set.ToBytes());
    }

    [Fact]
    public void ParsesAnEmptySet()
    {
        ExampleSet set = ExampleSet.Parse(Build(count: 0, rows: 28, cols: 28));

        Assert.Equal(0, set.Count);
        Assert.True(set.Labels.IsEmpty);
        Assert.True(set.Pixels.IsEmpty);
    }

    [Fact]
    public void AcceptsTheLargestImageSide()
    {
        ExampleSet set = ExampleSet.Parse(Build(count: 1, rows: 1024, cols: 1));

        Assert.Equal(1024, set.PixelsPerExample);
    }

    [Fact]
    public void EncodeAndCreateRoundTrip()
    {
        byte[] labels = [9, 0, 3];
        byte[] pixels = Enumerable.Range(0, 3 * 4).Select(i => (byte)(i * 7)).ToArray();

        byte[] encoded = ExampleSet.Encode(labels, pixels, 2, 2);
        ExampleSet parsed = ExampleSet.Parse(encoded);
        ExampleSet created = ExampleSet.Create(labels, pixels, 2, 2);

        Assert.Equal(labels, parsed.Labels.ToArray());
        Assert.Equal(pixels, parsed.Pixels.ToArray());
        Assert.Equal(encoded, created.ToBytes());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(19)]
    public void RejectsATruncatedHeader(int length)
    {
        byte[] bytes = Build(count: 0, rows: 28, cols: 28)[..length];

        var ex = Assert.Throws<ExampleSetFormatException>(() => ExampleSet.Parse(bytes));

        Assert.Contains("header", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(28)]
    [InlineData(29)]
    public void RejectsTruncatedExamples(int missing)
    {
        byte[] bytes = Build(count: 2, rows: 4, cols: 7);
        byte[] truncated = bytes[..^missing];

        var ex = Assert.Throws<ExampleSetFormatException>(() => ExampleSet.Parse(truncated));

        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        Assert.Contains("examples", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("EXAMPLE2")]
    [InlineData("example1")]
    [InlineData("ENCDS001")]
    public void RejectsABadMagic(string magic)
    {
        byte[] bytes = Build(count: 1, rows: 1, cols: 1);
        System.Text.Encoding.ASCII.GetBytes(magic).CopyTo(bytes, 0);

        var ex = Assert.Throws<ExampleSetFormatException>(() => ExampleSet.Parse(bytes));

        Assert.Contains("magic", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(255)]
    public void RejectsALabelOutsideZeroToNine(byte label)
    {
        byte[] bytes = Build(count: 3, rows: 2, cols: 2, label: i => i == 2 ? label : (byte)9);

        var ex = Assert.Throws<ExampleSetFormatException>(() => ExampleSet.Parse(bytes));

        Assert.Contains("label", ex.Message, StringComparison.Ordinal);
        Assert.Contains("example 2", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void RejectsTrailingBytes(int extra)
    {
        byte[] bytes = [.. Build(count: 2, rows: 3, cols: 3), .. new byte[extra]];

        var ex = Assert.Throws<ExampleSetFormatException>(() => ExampleSet.Parse(bytes));

        Assert.Contains("trailing", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(10_000_001u)]
    [InlineData(uint.MaxValue)]
    public void RejectsACountAboveTheMaximum(uint count)
    {
        byte[] bytes = Build(count: 0, rows: 28, cols: 28);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), count);

        var ex = Assert.Throws<ExampleSetFormatException>(() => ExampleSet.Parse(bytes));

        Assert.Contains("count", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsAHugeCountThatTheDataDoesNotHold()
    {
        byte[] bytes = Build(count: 1, rows: 1024, cols: 1024);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), ExampleSet.MaxCount);

        var ex = Assert.Throws<ExampleSetFormatException>(() => ExampleSet.Parse(bytes));

        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0u, 28u, "rows")]
    [InlineData(1025u, 28u, "rows")]
    [InlineData(uint.MaxValue, 28u, "rows")]
    [InlineData(28u, 0u, "cols")]
    [InlineData(28u, 1025u, "cols")]
    public void RejectsImageSidesOutsideTheRange(uint rows, uint cols, string field)
    {
        byte[] bytes = Build(count: 0, rows: 1, cols: 1);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), rows);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), cols);

        var ex = Assert.Throws<ExampleSetFormatException>(() => ExampleSet.Parse(bytes));

        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateRejectsInconsistentArrays()
    {
        Assert.Throws<ArgumentException>(() => ExampleSet.Create([1, 2], new byte[7], 2, 2));
        Assert.Throws<ArgumentException>(() => ExampleSet.Create([1, 10], new byte[8], 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ExampleSet.Create([1], new byte[0], 0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ExampleSet.Encode([1], new byte[1025], 1, 1025));
    }

    private static byte[] Build(int count, int rows, int cols, Func<int, int, byte>? pixel = null, Func<int, byte>? label = null)
    {
        var bytes = new byte[20 + (count * (1 + (rows * cols)))];
        "EXAMPLE1"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)count);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), (uint)rows);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), (uint)cols);
        int offset = 20;
        for (int i = 0; i < count; i++)
        {
            bytes[offset++] = label?.Invoke(i) ?? (byte)(i % 10);
            for (int p = 0; p < rows * cols; p++)
            {
                bytes[offset++] = pixel?.Invoke(i, p) ?? (byte)((i + p) & 0xff);
            }
        }

        return bytes;
    }
}
