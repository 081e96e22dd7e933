using System.Buffers.Binary;
using Enclave.Protocol;
using Enclave.Protocol.Boundary;
using Google.Protobuf;

namespace Enclave.Protocol.Tests;

public sealed class BoundaryFramesTests
{
    [Fact]
    public async Task FramesRoundTripInOrder()
    {
        using var stream = new MemoryStream();
        await BoundaryFrames.WriteAsync(stream, new EnclaveToHost { Log = new LogLine { Level = "info", Message = "one" } });
        await BoundaryFrames.WriteAsync(stream, new EnclaveToHost { Ocall = new Ocall { CallId = 7, ReadData = new ReadDataCall { DatasetId = "d", Offset = 5, Length = 9 } } });
        stream.Position = 0;
        EnclaveToHost? first = await BoundaryFrames.ReadAsync(stream, EnclaveToHost.Parser);
        EnclaveToHost? second = await BoundaryFrames.ReadAsync(stream, EnclaveToHost.Parser);
        Assert.Equal("one", first!.Log.Message);
        Assert.Equal(7UL, second!.Ocall.CallId);
        Assert.Equal(9, second.Ocall.ReadData.Length);
        Assert.Null(await BoundaryFrames.ReadAsync(stream, EnclaveToHost.Parser));
    }

    [Fact]
    public async Task AnOversizedLengthIsRefusedBeforeAnyAllocation()
    {
        byte[] prefix = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, uint.MaxValue);
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => BoundaryFrames.ReadAsync(new MemoryStream(prefix), HostToEnclave.Parser));
        Assert.Contains("exceeds", ex.Message, StringComparison.Ordinal);
    }

    // Found by fuzzing: a length prefix alone made the reader allocate the whole claimed frame.
    [Fact]
    public async Task AClaimedLengthWithoutItsBytesCostsNoLargeAllocation()
    {
        byte[] frame = new byte[4 + 10];
        BinaryPrimitives.WriteUInt32BigEndian(frame, BoundaryFrames.MaxFrameLength);
        long before = GC.GetAllocatedBytesForCurrentThread();
        await Assert.ThrowsAsync<InvalidDataException>(() => BoundaryFrames.ReadAsync(new MemoryStream(frame), HostToEnclave.Parser));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 1024 * 1024, $"{allocated} bytes were allocated for a 14-byte input");
    }

    // Found by fuzzing: a nested length that overflows made Google.Protobuf throw ArgumentOutOfRangeException.
    [Fact]
    public async Task AnOverflowingNestedLengthIsRefusedAsInvalidData()
    {
        byte[] frame = [0, 0, 0, 0x10, 0x08, 0x23, 0x40, 0x0c, 0x0a, 0xf8, 0xff, 0xff, 0xff, 0x17, 0x12, 0x15, 0x08, 0x01, 0x22, 0x11];
        await Assert.ThrowsAsync<InvalidDataException>(() => BoundaryFrames.ReadAsync(new MemoryStream(frame), HostToEnclave.Parser));
    }

    // Found by fuzzing: a nested length near int.MaxValue followed by a truncated field made Google.Protobuf
    // read past its buffer and throw IndexOutOfRangeException (protocolbuffers/protobuf#26856).
    [Theory]
    [InlineData("32ffffffff672acc")]
    [InlineData("32ffffffff6708cc")]
    [InlineData("32fcffffff5708d8")]
    [InlineData("0affffffff673acc")]
    public async Task ANestedLengthPastTheBufferIsRefusedAsInvalidData(string bodyHex)
    {
        byte[] body = Convert.FromHexString(bodyHex);
        byte[] frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)body.Length);
        body.CopyTo(frame, 4);
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => BoundaryFrames.ReadAsync(new MemoryStream(frame), HostToEnclave.Parser));
        Assert.Contains(nameof(HostToEnclave), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFrameLargerThanTheInitialBufferRoundTrips()
    {
        byte[] data = new byte[300_000];
        new Random(7).NextBytes(data);
        using var stream = new MemoryStream();
        await BoundaryFrames.WriteAsync(stream, new HostToEnclave { OcallResult = new OcallResult { CallId = 1, Data = ByteString.CopyFrom(data) } });
        stream.Position = 0;
        HostToEnclave? read = await BoundaryFrames.ReadAsync(stream, HostToEnclave.Parser);
        Assert.Equal(data, read!.OcallResult.Data.ToByteArray());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(6)]
    public async Task AStreamEndingInsideAFrameIsRefused(int length)
    {
        using var stream = new MemoryStream();
        await BoundaryFrames.WriteAsync(stream, new HostToEnclave { Configure = new Configure { RegionHint = "eu-west", DiscloseInputsForTests = true } });
        byte[] cut = stream.ToArray()[..length];
        await Assert.ThrowsAsync<InvalidDataException>(() => BoundaryFrames.ReadAsync(new MemoryStream(cut), HostToEnclave.Parser));
    }

    [Fact]
    public async Task GarbageInsideAFrameIsRefusedWithTheMessageTypeNamed()
    {
        byte[] frame = [0, 0, 0, 3, 0xFF, 0xFF, 0xFF];
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => BoundaryFrames.ReadAsync(new MemoryStream(frame), HostToEnclave.Parser));
        Assert.Contains(nameof(HostToEnclave), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryHostToEnclaveBodyIsDeclaredInTheBoundaryContract()
    {
        // The boundary is closed: adding a message kind is a deliberate change to this list and to the enclave's decoder.
        string[] bodies = HostToEnclave.Descriptor.Oneofs.Single().Fields.Select(f => f.Name).Order().ToArray();
        Assert.Equal(["configure", "ocall_result", "prepare", "probe_release", "secagg_begin", "secagg_step"], bodies);
        Assert.Equal(ByteString.Empty, new HostToEnclave().ToByteString());
    }
}
