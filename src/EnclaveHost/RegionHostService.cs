// The host's gRPC face: relays each coordinator request to its enclave and the enclave's answer back.
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Round;
using Grpc.Core;

namespace Enclave.EnclaveHost;

internal sealed class RegionHostService : RegionHost.RegionHostBase
{
    private readonly EnclaveProcess _enclave;
    private readonly HostOptions _options;
    // gRPC creates a service instance per call; the fault counter belongs to the host process.
    private static int s_steps;

    public RegionHostService(EnclaveProcess enclave, HostOptions options)
    {
        _enclave = enclave;
        _options = options;
    }

    public override async Task<PrepareResponse> Prepare(PrepareRequest request, ServerCallContext context) =>
        Expect(await _enclave.CallAsync(new HostToEnclave { Prepare = request }, context.CancellationToken), EnclaveToHost.BodyOneofCase.Prepared).Prepared;

    public override async Task<SecAggStepResponse> SecAggBegin(SecAggBeginRequest request, ServerCallContext context) =>
        Expect(await _enclave.CallAsync(new HostToEnclave { SecaggBegin = request }, context.CancellationToken), EnclaveToHost.BodyOneofCase.SecaggStepped).SecaggStepped;

    public override async Task<SecAggStepResponse> SecAggStep(SecAggStepRequest request, ServerCallContext context)
    {
        if (_options.ExitAtStep > 0 && Interlocked.Increment(ref s_steps) == _options.ExitAtStep)
        {
            // Fault injection for dropout tests: the host process dies as a crashed or cut-off host would.
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            self.Kill(entireProcessTree: true);
        }

        return Expect(await _enclave.CallAsync(new HostToEnclave { SecaggStep = request }, context.CancellationToken), EnclaveToHost.BodyOneofCase.SecaggStepped).SecaggStepped;
    }

    public override async Task<ProbeReleaseResponse> ProbeRelease(ProbeReleaseRequest request, ServerCallContext context) =>
        Expect(await _enclave.CallAsync(new HostToEnclave { ProbeRelease = request }, context.CancellationToken), EnclaveToHost.BodyOneofCase.Probed).Probed;

    public override Task<DescribeResponse> Describe(DescribeRequest request, ServerCallContext context)
    {
        Configured? configured = _enclave.Configured;
        return Task.FromResult(new DescribeResponse
        {
            Region = _options.Region,
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
