// Length-prefixed protobuf frames for the host <-> enclave boundary (docs/formats.md section 8):
// a u32 big-endian length (at most MaxFrameLength) followed by that many bytes of one message.
using System.Buffers.Binary;
using Google.Protobuf;

namespace Enclave.Protocol;

public static class BoundaryFrames
{
    public const int MaxFrameLength = 64 * 1024 * 1024;

    private const int InitialBodyBuffer = 64 * 1024;

    public static async Task WriteAsync(Stream stream, IMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(message);
        int size = message.CalculateSize();
        if (size > MaxFrameLength)
        {
            throw new InvalidDataException($"boundary frame of {size} bytes exceeds the {MaxFrameLength}-byte limit");
        }

        byte[] buffer = new byte[4 + size];
        BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)size);
        message.WriteTo(buffer.AsSpan(4));
        await stream.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one frame; returns null at a clean end of stream before a frame starts.</summary>
    /// <exception cref="InvalidDataException">The frame is oversized or the stream ends inside it.</exception>
    public static async Task<T?> ReadAsync<T>(Stream stream, MessageParser<T> parser, CancellationToken cancellationToken = default)
        where T : class, IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(parser);
        byte[] prefix = new byte[4];
        int read = await ReadFullyAsync(stream, prefix, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }

        if (read < 4)
        {
            throw new InvalidDataException("boundary stream ended inside a frame length");
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        if (length > MaxFrameLength)
        {
            throw new InvalidDataException($"boundary frame length {length} exceeds the {MaxFrameLength}-byte limit");
        }

        byte[] body = await ReadBodyAsync(stream, (int)length, cancellationToken).ConfigureAwait(false);

        try
        {
            return ProtoWire.Parse(parser, body);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"boundary frame is {ex.Message}", ex);
        }
    }

    // The buffer grows with the bytes that actually arrive, so a length prefix alone cannot make the reader
    // allocate up to MaxFrameLength (found by fuzzing: 4 bytes cost 64 MiB).
    private static async Task<byte[]> ReadBodyAsync(Stream stream, int length, CancellationToken cancellationToken)
    {
        byte[] body = new byte[Math.Min(length, InitialBodyBuffer)];
        int filled = 0;
        while (true)
        {
            filled += await ReadFullyAsync(stream, body.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (filled < body.Length)
            {
                throw new InvalidDataException($"boundary stream ended inside a {length}-byte frame");
            }

            if (filled == length)
            {
                return body;
            }

            Array.Resize(ref body, (int)Math.Min(length, (long)body.Length * 2));
        }
    }

    private static async Task<int> ReadFullyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}
