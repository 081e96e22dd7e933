// The host's gRPC face: relays each coordinator request to its enclave and the enclave's answer back.
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Round;
using Grpc.Core;

namespace Enclave.EnclaveHost;

internal sealed class RegionHostService : RegionHost.RegionHostBase
{
    private readonly EnclaveProcess _enclave;
    private readonly HostOptions _options;

    public RegionHostService(EnclaveProcess enclave, HostOptions options)
    {
        _enclave = enclave;
        _options = options;
    }

    public override async Task<PrepareResponse> Prepare(PrepareRequest request, ServerCallContext context) =>
        Expect(await _enclave.CallAsync(new HostToEnclave { Prepare = request }, context.CancellationToken), EnclaveToHost.BodyOneofCase.Prepared).Prepared;

    public override async Task<MaskInputResponse> MaskInput(MaskInputRequest request, ServerCallContext context) =>
        Expect(await _enclave.CallAsync(new HostToEnclave { MaskInput = request }, context.CancellationToken), EnclaveToHost.BodyOneofCase.Masked).Masked;

    public override async Task<UnmaskResponse> Unmask(UnmaskRequest request, ServerCallContext context) =>
        Expect(await _enclave.CallAsync(new HostToEnclave { Unmask = request }, context.CancellationToken), EnclaveToHost.BodyOneofCase.Unmasked).Unmasked;

    public override async Task<ProbeReleaseResponse> ProbeRelease(ProbeReleaseRequest request, ServerCallContext context) =>
        Expect(await _enclave.CallAsync(new HostToEnclave { ProbeRelease = request }, context.CancellationToken), EnclaveToHost.BodyOneofCase.Probed).Probed;

    public override Task<DescribeResponse> Describe(DescribeRequest request, ServerCallContext context)
    {
        Configured? configured = _enclave.Configured;
        return Task.FromResult(new DescribeResponse
        {
            Region = _options.Region,
            DatasetId = _options.DatasetId,
            KeyName = _options.KeyName,
            PlatformId = configured?.PlatformId ?? string.Empty,
            Measurement = configured?.Measurement ?? string.Empty,
            Simulated = configured?.Simulated ?? true,
        });
    }

    private static EnclaveToHost Expect(EnclaveToHost reply, EnclaveToHost.BodyOneofCase expected) =>
        reply.BodyCase == expected
            ? reply
            : throw new RpcException(new Status(StatusCode.Internal, $"the enclave answered with {reply.BodyCase}, expected {expected}"));
}
