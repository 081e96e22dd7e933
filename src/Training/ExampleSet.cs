using System.Buffers.Binary;

namespace Enclave.Training;

/// <summary>
/// A labelled image set as carried in the plaintext of an encrypted dataset (docs/formats.md section 6):
/// magic <c>EXAMPLE1</c>, count n (u32 LE, at most <see cref="MaxCount"/>), rows and cols (u32 LE, each
/// 1..<see cref="MaxDimension"/>), then n records of one label byte (0–9) followed by rows·cols pixel bytes.
/// </summary>
/// <remarks>
/// Parsed sets keep labels and pixels in two separate arrays: <see cref="Labels"/> holds one byte per example,
/// <see cref="Pixels"/> holds <c>Count · Rows · Cols</c> bytes, example after example, each row-major.
/// </remarks>
public sealed class ExampleSet
{
    /// <summary>Length of the fixed header: magic, count, rows, cols.</summary>
    public const int HeaderLength = 20;

    /// <summary>Largest example count the format allows.</summary>
    public const int MaxCount = 10_000_000;

    /// <summary>Largest number of rows or columns the format allows.</summary>
    public const int MaxDimension = 1024;

    /// <summary>Number of classes; labels lie in 0..ClassCount-1.</summary>
    public const int ClassCount = 10;

    private ExampleSet(int count, int rows, int cols, byte[] labels, byte[] pixels)
    {
        Count = count;
        Rows = rows;
        Cols = cols;
        Labels = labels;
        Pixels = pixels;
    }

    /// <summary>The format's magic, ASCII <c>EXAMPLE1</c>.</summary>
    public static ReadOnlySpan<byte> Magic => "EXAMPLE1"u8;

    /// <summary>Number of examples.</summary>
    public int Count { get; }

    /// <summary>Rows of every image.</summary>
    public int Rows { get; }

    /// <summary>Columns of every image.</summary>
    public int Cols { get; }

    /// <summary>Pixels of one image (<c>Rows · Cols</c>).</summary>
    public int PixelsPerExample => Rows * Cols;

    /// <summary>One label (0–9) per example.</summary>
    public ReadOnlyMemory<byte> Labels { get; }

    /// <summary>All images back to back, <see cref="PixelsPerExample"/> bytes each, row-major.</summary>
    public ReadOnlyMemory<byte> Pixels { get; }

    /// <summary>
    /// Parses an example set. The input must be exactly one example set: no byte may be missing or left over.
    /// </summary>
    /// <exception cref="ExampleSetFormatException">The input is malformed; the message names the field.</exception>
    public static ExampleSet Parse(ReadOnlySpan<byte> plaintext)
    {
        if (plaintext.Length < HeaderLength)
        {
            throw new ExampleSetFormatException(
                $"Example set header is truncated: {HeaderLength} bytes are needed, {plaintext.Length} present.");
        }

        if (!plaintext[..8].SequenceEqual(Magic))
        {
            throw new ExampleSetFormatException("Example set magic is not 'EXAMPLE1'.");
        }

        uint count = BinaryPrimitives.ReadUInt32LittleEndian(plaintext[8..]);
        uint rows = BinaryPrimitives.ReadUInt32LittleEndian(plaintext[12..]);
        uint cols = BinaryPrimitives.ReadUInt32LittleEndian(plaintext[16..]);

        if (count > MaxCount)
        {
            throw new ExampleSetFormatException($"Example set count {count} exceeds the maximum of {MaxCount}.");
        }

        if (rows is 0 or > MaxDimension)
        {
            throw new ExampleSetFormatException($"Example set rows {rows} is outside 1..{MaxDimension}.");
        }

        if (cols is 0 or > MaxDimension)
        {
            throw new ExampleSetFormatException($"Example set cols {cols} is outside 1..{MaxDimension}.");
        }

        int pixelsPerExample = (int)(rows * cols);
        long recordLength = 1L + pixelsPerExample;
        long expectedLength = HeaderLength + (count * recordLength);
        if (plaintext.Length < expectedLength)
        {
            throw new ExampleSetFormatException(
                $"Example set examples are truncated: {count} examples of {rows}x{cols} need {expectedLength} bytes, " +
                $"{plaintext.Length} present.");
        }

        if (plaintext.Length > expectedLength)
        {
            throw new ExampleSetFormatException(
                $"Example set has {plaintext.Length - expectedLength} trailing bytes after {count} examples.");
        }

        // The whole input fits in a span, so every size below fits in an int.
        int n = (int)count;
        var labels = new byte[n];
        var pixels = new byte[n * pixelsPerExample];
        ReadOnlySpan<byte> records = plaintext[HeaderLength..];
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<byte> record = records.Slice(i * (pixelsPerExample + 1), pixelsPerExample + 1);
            byte label = record[0];
            if (label >= ClassCount)
            {
                throw new ExampleSetFormatException(
                    $"Example set label of example {i} is {label}; labels must be 0..{ClassCount - 1}.");
            }

            labels[i] = label;
            record[1..].CopyTo(pixels.AsSpan(i * pixelsPerExample, pixelsPerExample));
        }

        return new ExampleSet(n, (int)rows, (int)cols, labels, pixels);
    }

    /// <summary>Builds an example set from separate label and pixel arrays (copied).</summary>
    /// <exception cref="ArgumentException">The arrays do not describe a valid example set.</exception>
    public static ExampleSet Create(ReadOnlySpan<byte> labels, ReadOnlySpan<byte> pixels, int rows, int cols)
    {
        Validate(labels, pixels, rows, cols);
        return new ExampleSet(labels.Length, rows, cols, labels.ToArray(), pixels.ToArray());
    }

    /// <summary>Encodes labels and pixels in the section 6 format.</summary>
    /// <exception cref="ArgumentException">The arrays do not describe a valid example set.</exception>
    public static byte[] Encode(ReadOnlySpan<byte> labels, ReadOnlySpan<byte> pixels, int rows, int cols)
    {
        Validate(labels, pixels, rows, cols);
        int pixelsPerExample = rows * cols;
        long length = HeaderLength + ((long)labels.Length * (pixelsPerExample + 1));
        if (length > Array.MaxLength)
        {
            throw new ArgumentException($"An encoded example set of {length} bytes does not fit in one array.", nameof(labels));
        }

        var output = new byte[length];
        Magic.CopyTo(output);
        BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(8), (uint)labels.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(12), (uint)rows);
        BinaryPrimitives.WriteUInt32LittleEndian(output.AsSpan(16), (uint)cols);
        int offset = HeaderLength;
        for (int i = 0; i < labels.Length; i++)
        {
            output[offset] = labels[i];
            pixels.Slice(i * pixelsPerExample, pixelsPerExample).CopyTo(output.AsSpan(offset + 1));
            offset += pixelsPerExample + 1;
        }

        return output;
    }

    /// <summary>Encodes this set in the section 6 format.</summary>
    public byte[] ToBytes() => Encode(Labels.Span, Pixels.Span, Rows, Cols);

    private static void Validate(ReadOnlySpan<byte> labels, ReadOnlySpan<byte> pixels, int rows, int cols)
    {
        if (rows is < 1 or > MaxDimension)
        {
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"Rows must be 1..{MaxDimension}.");
        }

        if (cols is < 1 or > MaxDimension)
        {
            throw new ArgumentOutOfRangeException(nameof(cols), cols, $"Cols must be 1..{MaxDimension}.");
        }

        if (labels.Length > MaxCount)
        {
            throw new ArgumentException($"At most {MaxCount} examples are allowed.", nameof(labels));
        }

        if ((long)labels.Length * rows * cols != pixels.Length)
        {
            throw new ArgumentException(
                $"{labels.Length} examples of {rows}x{cols} need {(long)labels.Length * rows * cols} pixels, {pixels.Length} given.",
                nameof(pixels));
        }

        int bad = labels.IndexOfAnyInRange((byte)ClassCount, byte.MaxValue);
        if (bad >= 0)
        {
            throw new ArgumentException($"Label of example {bad} is {labels[bad]}; labels must be 0..{ClassCount - 1}.", nameof(labels));
        }
    }
}
