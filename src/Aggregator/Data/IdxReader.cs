using System.Buffers.Binary;
using System.IO.Compression;

namespace Enclave.Aggregator.Data;

/// <summary>
/// Reads the IDX files that MNIST-style data sets ship in, gzip-compressed or plain.
/// </summary>
/// <remarks>
/// Images: magic <c>0x00000803</c>, then count, rows and cols (u32 big-endian), then count·rows·cols pixel bytes.
/// Labels: magic <c>0x00000801</c>, then count (u32 big-endian), then count label bytes.
/// Counts are bounded by <see cref="MaxCount"/>, image sides by <see cref="MaxDimension"/>, and a file must end
/// exactly after its data. Memory grows with the data actually read, never with a claimed size alone.
/// </remarks>
public static class IdxReader
{
    /// <summary>Magic of an image file (unsigned bytes, three dimensions).</summary>
    public const uint ImagesMagic = 0x00000803;

    /// <summary>Magic of a label file (unsigned bytes, one dimension).</summary>
    public const uint LabelsMagic = 0x00000801;

    /// <summary>Largest item count accepted.</summary>
    public const int MaxCount = 10_000_000;

    /// <summary>Largest number of rows or columns accepted.</summary>
    public const int MaxDimension = 1024;

    /// <summary>Largest payload (pixels or labels) accepted, in bytes.</summary>
    public const long MaxPayloadBytes = 1L << 30;

    private const int InitialBufferBytes = 1 << 20;

    /// <summary>Reads an image file. Pixels are image after image, each row-major.</summary>
    /// <exception cref="IdxFormatException">The file is not a well-formed IDX image file.</exception>
    public static (byte[] Pixels, int Count, int Rows, int Cols) ReadImages(string path)
    {
        using Stream stream = Open(path);
        Span<byte> header = stackalloc byte[16];
        ReadHeader(stream, header, ImagesMagic, "image", path);
        uint count = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        uint rows = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        uint cols = BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
        CheckCount(count, path);
        if (rows is 0 or > MaxDimension)
        {
            throw new IdxFormatException($"IDX image file '{path}': rows {rows} is outside 1..{MaxDimension}.");
        }

        if (cols is 0 or > MaxDimension)
        {
            throw new IdxFormatException($"IDX image file '{path}': cols {cols} is outside 1..{MaxDimension}.");
        }

        long length = (long)count * rows * cols;
        if (length > MaxPayloadBytes)
        {
            throw new IdxFormatException(
                $"IDX image file '{path}': {count} images of {rows}x{cols} exceed the limit of {MaxPayloadBytes} pixel bytes.");
        }

        byte[] pixels = ReadPayload(stream, (int)length, "image", path);
        return (pixels, (int)count, (int)rows, (int)cols);
    }

    /// <summary>Reads a label file.</summary>
    /// <exception cref="IdxFormatException">The file is not a well-formed IDX label file.</exception>
    public static byte[] ReadLabels(string path)
    {
        using Stream stream = Open(path);
        Span<byte> header = stackalloc byte[8];
        ReadHeader(stream, header, LabelsMagic, "label", path);
        uint count = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        CheckCount(count, path);
        return ReadPayload(stream, (int)count, "label", path);
    }

    private static Stream Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            Span<byte> signature = stackalloc byte[2];
            int read = file.ReadAtLeast(signature, 2, throwOnEndOfStream: false);
            file.Position = 0;
            if (read == 2 && signature[0] == 0x1f && signature[1] == 0x8b)
            {
                return new GZipStream(file, CompressionMode.Decompress, leaveOpen: false);
            }

            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void ReadHeader(Stream stream, Span<byte> header, uint magic, string kind, string path)
    {
        int read = Read(stream, header, kind, path);
        if (read >= 4)
        {
            CheckMagic(header, magic, kind, path);
        }

        if (read < header.Length)
        {
            throw new IdxFormatException(
                $"IDX {kind} file '{path}': header is truncated ({read} of {header.Length} bytes).");
        }
    }

    private static void CheckMagic(ReadOnlySpan<byte> header, uint expected, string kind, string path)
    {
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (magic != expected)
        {
            throw new IdxFormatException(
                $"IDX {kind} file '{path}': magic 0x{magic:x8} is not 0x{expected:x8}.");
        }
    }

    private static void CheckCount(uint count, string path)
    {
        if (count > MaxCount)
        {
            throw new IdxFormatException($"IDX file '{path}': count {count} exceeds the maximum of {MaxCount}.");
        }
    }

    private static byte[] ReadPayload(Stream stream, int length, string kind, string path)
    {
        // Grow with the data that actually arrives, so a forged header cannot force a huge allocation.
        var buffer = new byte[Math.Min(length, InitialBufferBytes)];
        int filled = 0;
        while (filled < length)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(length, (long)buffer.Length * 2));
            }

            int read = Read(stream, buffer.AsSpan(filled), kind, path);
            if (read == 0)
            {
                throw new IdxFormatException(
                    $"IDX {kind} file '{path}': data is truncated ({filled} of {length} bytes).");
            }

            filled += read;
        }

        Span<byte> probe = stackalloc byte[1];
        if (Read(stream, probe, kind, path) != 0)
        {
            throw new IdxFormatException($"IDX {kind} file '{path}': trailing bytes after {length} data bytes.");
        }

        return buffer;
    }

    private static int Read(Stream stream, Span<byte> destination, string kind, string path)
    {
        try
        {
            return stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException ex)
        {
            throw new IdxFormatException($"IDX {kind} file '{path}': gzip data is corrupt ({ex.Message}).", ex);
        }
    }
}
