using System.Buffers.Binary;
using Enclave.EnclaveApp.Boundary;
using Enclave.Protocol;
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Round;
using Google.Protobuf;

namespace Enclave.EnclaveApp.Tests;

public sealed class BoundaryTests
{
    [Fact]
    public async Task AnOcallResultWhereARequestIsExpectedIsAViolation()
    {
        var channel = Channel(new HostToEnclave { OcallResult = new OcallResult { CallId = 1, Nonce = "n" } });
        await Assert.ThrowsAsync<BoundaryViolationException>(() => channel.ReceiveRequestAsync(CancellationToken.None));
    }

    [Fact]
    public async Task AnAnswerToAnotherCallIsAViolation()
    {
        var channel = Channel(new HostToEnclave { OcallResult = new OcallResult { CallId = 99, Nonce = "n" } });
        var ex = await Assert.ThrowsAsync<BoundaryViolationException>(() => channel.CallAsync(new Ocall { GetNonce = new GetNonceCall() }, CancellationToken.None));
        Assert.Contains("ocall 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAnswerOfTheWrongKindIsAViolation()
    {
        var channel = Channel(new HostToEnclave { OcallResult = new OcallResult { CallId = 1, Token = "t" } });
        await Assert.ThrowsAsync<BoundaryViolationException>(() => channel.CallAsync(new Ocall { GetNonce = new GetNonceCall() }, CancellationToken.None));
    }

    [Fact]
    public async Task AHostReportedFailureSurfacesWithItsCode()
    {
        var channel = Channel(new HostToEnclave { OcallResult = new OcallResult { CallId = 1, Failure = new Failure { Code = "ReleaseDenied", Message = "no" } } });
        var ex = await Assert.ThrowsAsync<OcallFailedException>(() => channel.CallAsync(new Ocall { ReleaseKey = new ReleaseKeyCall { KeyName = "k", AttestationToken = "t" } }, CancellationToken.None));
        Assert.Equal("ReleaseDenied", ex.Code);
    }

    [Fact]
    public async Task OversizedDataFromTheHostIsAViolation()
    {
        var channel = Channel(new HostToEnclave { OcallResult = new OcallResult { CallId = 1, Data = ByteString.CopyFrom(new byte[HostMessageLimits.MaxDataRead + 1]) } });
        await Assert.ThrowsAsync<BoundaryViolationException>(() => channel.CallAsync(new Ocall { ReadData = new ReadDataCall { DatasetId = "d", Length = 1 } }, CancellationToken.None));
    }

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task MalformedRequestsAreViolationsNamingTheField(HostToEnclave request, string field)
    {
        var channel = Channel(request);
        var ex = await Assert.ThrowsAsync<BoundaryViolationException>(() => channel.ReceiveRequestAsync(CancellationToken.None));
        Assert.Contains(field, ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<HostToEnclave, string> BadRequests() => new()
    {
        { new HostToEnclave { Prepare = new PrepareRequest { Specification = Signed(), GlobalModel = ByteString.CopyFrom(new byte[6]) } }, "global_model" },
        { new HostToEnclave { Prepare = new PrepareRequest { GlobalModel = ByteString.CopyFrom(new byte[8]) } }, "prepare.specification" },
        { new HostToEnclave { Prepare = new PrepareRequest { Specification = new CoordinatorSigned(), GlobalModel = ByteString.CopyFrom(new byte[8]) } }, "prepare.specification" },
        { new HostToEnclave { Prepare = new PrepareRequest { Specification = new CoordinatorSigned { Payload = ByteString.CopyFrom(new byte[HostMessageLimits.MaxSpecificationBytes + 1]) }, GlobalModel = ByteString.CopyFrom(new byte[8]) } }, "prepare.specification" },
        { new HostToEnclave { Configure = new Configure { RegionHint = new string('r', 129) } }, "region_hint" },
        { new HostToEnclave { SecaggBegin = new SecAggBeginRequest { RoundId = "r" } }, "secagg_begin.begin" },
        { new HostToEnclave { SecaggBegin = new SecAggBeginRequest { Begin = Signed() } }, "secagg_begin.round_id" },
        { new HostToEnclave { SecaggStep = new SecAggStepRequest { RoundId = "r" } }, "secagg_step.message" },
        { new HostToEnclave { SecaggStep = new SecAggStepRequest { RoundId = "r", Message = ByteString.CopyFrom([1]), Signature = ByteString.CopyFrom(new byte[129]) } }, "secagg_step.signature" },
        { new HostToEnclave { ProbeRelease = new ProbeReleaseRequest() }, "key_name" },
    };

    private static CoordinatorSigned Signed() => new() { Payload = ByteString.CopyFrom([1, 2, 3]), Signature = ByteString.CopyFrom(new byte[64]), KeyId = "k" };

    [Fact]
    public async Task ATruncatedFrameIsAViolation()
    {
        byte[] prefix = new byte[6];
        BinaryPrimitives.WriteUInt32BigEndian(prefix, 100);
        var channel = new BoundaryChannel(new MemoryStream(prefix), new MemoryStream());
        await Assert.ThrowsAsync<BoundaryViolationException>(() => channel.ReceiveRequestAsync(CancellationToken.None));
    }

    private static BoundaryChannel Channel(HostToEnclave fromHost)
    {
        var input = new MemoryStream();
        BoundaryFrames.WriteAsync(input, fromHost).GetAwaiter().GetResult();
        input.Position = 0;
        return new BoundaryChannel(input, new MemoryStream());
    }
}
