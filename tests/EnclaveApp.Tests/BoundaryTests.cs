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
        { new HostToEnclave { Prepare = new PrepareRequest { RoundId = "r", GlobalModel = ByteString.CopyFrom(new byte[6]), Training = new TrainingConfig() } }, "global_model" },
        { new HostToEnclave { Prepare = new PrepareRequest { RoundId = "r", GlobalModel = ByteString.CopyFrom(new byte[8]) } }, "training" },
        { new HostToEnclave { Prepare = new PrepareRequest { RoundId = "", GlobalModel = ByteString.CopyFrom(new byte[8]), Training = new TrainingConfig() } }, "round_id" },
        { new HostToEnclave { Configure = new Configure { DatasetId = new string('d', 129), KeyName = "k", VerifierIssuer = "i" } }, "dataset_id" },
        { new HostToEnclave { SecaggBegin = new SecAggBeginRequest { RoundId = "r", GraphSeed = ByteString.CopyFrom(new byte[32]) } }, "quantization" },
        { new HostToEnclave { SecaggBegin = new SecAggBeginRequest { RoundId = "r", Quantization = new QuantizationConfig(), GraphSeed = ByteString.CopyFrom(new byte[31]) } }, "graph_seed" },
        { new HostToEnclave { SecaggStep = new SecAggStepRequest { RoundId = "r" } }, "secagg_step.message" },
        { new HostToEnclave { ProbeRelease = new ProbeReleaseRequest() }, "key_name" },
    };

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
