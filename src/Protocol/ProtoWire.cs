// The one way untrusted protobuf bytes become a message. Google.Protobuf signals malformed input with
// InvalidProtocolBufferException, but some malformations escape as other exceptions: nested lengths that
// overflow (ArgumentOutOfRangeException) and a nested length near int.MaxValue followed by a truncated field,
// which reads past the buffer and throws IndexOutOfRangeException (found by fuzzing; protocolbuffers/protobuf
// issue 26856). The reads are bounds-checked, so every one of them means "not a valid message" and nothing more.
using Google.Protobuf;

namespace Enclave.Protocol;

public static class ProtoWire
{
    /// <summary>Parses one message from untrusted bytes.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid <typeparamref name="T"/>; the message names the type.</exception>
    public static T Parse<T>(MessageParser<T> parser, ReadOnlySpan<byte> bytes)
        where T : IMessage<T>
    {
        ArgumentNullException.ThrowIfNull(parser);
        try
        {
            return parser.ParseFrom(bytes);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"not a valid {typeof(T).Name}: {Describe(ex)}", ex);
        }
    }

    private static string Describe(Exception ex) => ex switch
    {
        InvalidProtocolBufferException => ex.Message,
        _ => "a length or field runs past the end of the input",
    };
}
