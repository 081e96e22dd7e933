using Enclave.Aggregator.Rounds;
using Enclave.Protocol.Coordinator;
using Grpc.Core;

namespace Enclave.Aggregator;

internal sealed class CoordinatorService : Coordinator.CoordinatorBase
{
    private readonly RoundCoordinator _coordinator;

    public CoordinatorService(RoundCoordinator coordinator) => _coordinator = coordinator;

    public override Task<RoundSummary> RunRound(RunRoundRequest request, ServerCallContext context) =>
        _coordinator.RunRoundAsync(context.CancellationToken);

    public override Task<CoordinatorStatus> Status(StatusRequest request, ServerCallContext context) =>
        Task.FromResult(_coordinator.Status());
}
