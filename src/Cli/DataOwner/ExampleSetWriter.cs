// Writes a shard of labelled images in the example-set format (docs/formats.md section 6), the plaintext a data
// owner encrypts into an ENCDS001 dataset.
using System.Buffers.Binary;

namespace Enclave.Cli.DataOwner;

internal static class ExampleSetWriter
{
    public const int HeaderLength = 20;

    public static byte[] Write(ReadOnlySpan<byte> pixels, ReadOnlySpan<byte> labels, int rows, int cols, IReadOnlyList<int> indices)
    {
        int size = rows * cols;
        byte[] buffer = new byte[HeaderLength + (long)indices.Count * (1 + size) is var total && total <= int.MaxValue ? (int)total : throw new ArgumentOutOfRangeException(nameof(indices), "shard too large")];
        Span<byte> span = buffer;
        "EXAMPLE1"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)indices.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], (uint)rows);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)cols);
        int offset = HeaderLength;
        foreach (int index in indices)
        {
            span[offset++] = labels[index];
            pixels.Slice(index * size, size).CopyTo(span[offset..]);
            offset += size;
        }

        return buffer;
    }
}
