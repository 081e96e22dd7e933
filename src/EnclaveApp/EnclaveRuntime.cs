// The enclave's request loop. Each host request is served to completion before the next is read; the state of
// the current round (keys, token, local update, masking client) lives only here, in enclave memory. The rooms:
// Rounds/RoundAuthority checks what the coordinator signed, Attestation/EnclaveAttestor attests and obtains the
// data key, Data/DatasetReader decrypts the dataset, Training/LocalTrainer trains, Rounds/CohortVerifier checks
// the secure-aggregation cohort; this class runs them in order and turns refusals into typed failures.
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Enclave.Crypto;
using Enclave.EnclaveApp.Attestation;
using Enclave.EnclaveApp.Boundary;
using Enclave.EnclaveApp.Data;
using Enclave.EnclaveApp.Keys;
using Enclave.EnclaveApp.Rounds;
using Enclave.Training;
using Enclave.Privacy;
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;
using Enclave.SecureAggregation.Staged;
using Google.Protobuf;

namespace Enclave.EnclaveApp;

internal sealed class EnclaveRuntime
{
    /// <summary>How many specifications the enclave remembers having prepared, so that none is replayed.</summary>
    private const int RememberedSpecifications = 256;

    private readonly BoundaryChannel _channel;
    private readonly IEvidenceProvider _evidence;
    private readonly EnclaveConfiguration _configuration;
    private readonly RoundAuthority _authority;
    private readonly DatasetReader _datasets;
    private readonly EnclaveAttestor _attestor;
    private readonly byte[] _measurement;
    private readonly string _platformId;
    private readonly Queue<string> _preparedOrder = new();
    private readonly HashSet<string> _prepared = new(StringComparer.Ordinal);
    private bool _discloseInputs;
    private RoundState? _round;

    /// <param name="configuration">The trust anchors pinned in the measured image.</param>
    /// <param name="evidence">Where attestation evidence comes from (hardware or the simulated platform).</param>
    /// <param name="measurement">The measurement of the code that runs, reported to the host.</param>
    /// <param name="platformId">The platform identity reported to the host (empty when the verifier derives it).</param>
    public EnclaveRuntime(BoundaryChannel channel, EnclaveConfiguration configuration, IEvidenceProvider evidence, byte[] measurement, string platformId, TimeProvider? time = null)
    {
        _channel = channel;
        _configuration = configuration;
        _evidence = evidence;
        _measurement = measurement;
        _platformId = platformId;
        _authority = new RoundAuthority(configuration.CoordinatorKeys, time ?? TimeProvider.System);
        _datasets = new DatasetReader(channel);
        _attestor = new EnclaveAttestor(channel, configuration, evidence, measurement);
    }

    private bool Simulated => _configuration.Mode == EnclaveMode.Simulated;

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (await _channel.ReceiveRequestAsync(cancellationToken).ConfigureAwait(false) is { } request)
        {
            EnclaveToHost response = request.BodyCase switch
            {
                HostToEnclave.BodyOneofCase.Configure => Configure(request.Configure),
                HostToEnclave.BodyOneofCase.Prepare => new EnclaveToHost { Prepared = await PrepareAsync(request.Prepare, cancellationToken).ConfigureAwait(false) },
                HostToEnclave.BodyOneofCase.SecaggBegin => new EnclaveToHost { SecaggStepped = await SecAggBeginAsync(request.SecaggBegin, cancellationToken).ConfigureAwait(false) },
                HostToEnclave.BodyOneofCase.SecaggStep => new EnclaveToHost { SecaggStepped = SecAggStep(request.SecaggStep) },
                HostToEnclave.BodyOneofCase.ProbeRelease => new EnclaveToHost { Probed = await ProbeAsync(request.ProbeRelease, cancellationToken).ConfigureAwait(false) },
                _ => throw new BoundaryViolationException($"unexpected request {request.BodyCase}"),
            };
            await _channel.SendAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    private EnclaveToHost Configure(Configure configure)
    {
        if (configure.DiscloseInputsForTests && !Simulated)
        {
            throw new BoundaryViolationException("the host asked a hardware enclave image to disclose its inputs");
        }

        _discloseInputs = configure.DiscloseInputsForTests;
        return new EnclaveToHost
        {
            Configured = new Configured
            {
                Measurement = Convert.ToHexStringLower(_measurement),
                PlatformId = _platformId,
                Simulated = Simulated,
                VerifierIssuer = _configuration.VerifierIssuer,
            },
        };
    }

    // Prepare: check the coordinator's signed specification, attest with its hash in the runtime data, obtain the
    // data key the specification names for this enclave's attested region, decrypt the dataset it names, train
    // with its settings. Nothing here comes from the host.
    private async Task<PrepareResponse> PrepareAsync(PrepareRequest request, CancellationToken cancellationToken)
    {
        _round?.Dispose();
        _round = null;
        RoundKeys? keys = null;
        try
        {
            VerifiedSpecification spec = _authority.VerifySpecification(request.Specification, request.GlobalModel.Span);
            if (_prepared.Contains(spec.Hex))
            {
                throw new EnclaveFailure("RoundSpecificationReplayed", $"this enclave has already prepared round {spec.RoundId} from this specification");
            }

            Remember(spec.Hex);
            keys = RoundKeys.Create();
            Attested attested = await _attestor.AttestAsync(keys, spec.RoundId, spec.Hex, spec.Plan, cancellationToken).ConfigureAwait(false);
            CohortMember member = spec.MemberFor(attested.Region);
            await _channel.LogAsync("info", $"attested as {attested.TokenId} in region {attested.Region}{(Simulated ? " (SIMULATED evidence)" : string.Empty)}; round {spec.RoundId}, dataset {member.DatasetId}", cancellationToken).ConfigureAwait(false);
            (byte[] dataKey, ReleasedKey released) = await _attestor.ObtainDataKeyAsync(member.KeyId, attested.Token, keys, cancellationToken).ConfigureAwait(false);
            ExampleSet examples;
            try
            {
                examples = ExampleSet.Parse(await _datasets.ReadAsync(member.DatasetId, attested.Region, dataKey, cancellationToken).ConfigureAwait(false));
            }
            finally
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }

            float[] global = MemoryMarshal.Cast<byte, float>(request.GlobalModel.Span).ToArray();
            TrainingPlan plan = spec.Plan.Plan;
            LocalTrainingPlan local = LocalTrainingPlan.ForRound(plan, spec.Specification.Round);
            if (local.Model.ParameterCount != global.Length)
            {
                throw new EnclaveFailure("ModelShapeMismatch", $"global model has {global.Length} parameters; plan {plan.Id}'s {plan.Model.Kind} has {local.Model.ParameterCount}");
            }

            TrainingResult result = LocalTrainer.Train(global, examples, local);
            long weight = Math.Min(result.SampleCount, member.MaxSamples);

            // Under record-level DP only the noised update may leave: loss, accuracy and the update's norm before the
            // clip are exact functions of the records, so neither the host's log nor the advertisement carries them.
            bool privateRound = plan.Privacy is not null;
            await _channel.LogAsync("info", privateRound
                ? $"trained with DP-SGD ({result.Steps} steps) on {result.SampleCount} examples (FedAvg weight {weight})"
                : $"trained on {result.SampleCount} examples (FedAvg weight {weight}): loss {result.FinalLoss:F4}, train accuracy {result.TrainAccuracy:F4}", cancellationToken).ConfigureAwait(false);

            var advertisement = new Advertisement
            {
                RoundId = spec.RoundId,
                Region = attested.Region,
                Token = attested.Token,
                SampleCount = weight,
                KeyReceiptId = released.ReceiptId,
                KeyVersion = released.KeyVersion,
                TrainLoss = privateRound ? 0 : result.FinalLoss,
                TrainAccuracy = privateRound ? 0 : result.TrainAccuracy,
                SpecificationSha256 = ByteString.CopyFrom(spec.Sha256),
                DatasetId = member.DatasetId,
                KeyId = member.KeyId,
                PlanSha256 = ByteString.CopyFrom(plan.Sha256),
                UpdateNorm = privateRound ? 0 : result.UpdateNorm,
            };
            _round = new RoundState(spec, keys, attested, result.Delta) { SampleCount = weight };
            keys = null;
            return new PrepareResponse { Advertisement = Sign(_round.Keys, "advertise", advertisement) };
        }
        catch (Exception ex) when (ToFailure(ex) is { } failure)
        {
            return new PrepareResponse { Failure = failure };
        }
        finally
        {
            keys?.Dispose();
        }
    }

    private void Remember(string specificationHex)
    {
        _prepared.Add(specificationHex);
        _preparedOrder.Enqueue(specificationHex);
        if (_preparedOrder.Count > RememberedSpecifications)
        {
            _prepared.Remove(_preparedOrder.Dequeue());
        }
    }

    // Fixes the cohort of the staged protocol, as the coordinator signed it: every listed participant must carry a
    // valid token of the pinned verifier, this enclave's measurement, a region of the specification's cohort and the
    // same specification hash, and an advertisement signed by that token's key within its weight cap. The degree and
    // threshold are derived here from the cohort size and the specification, never taken from the request.
    private async Task<SecAggStepResponse> SecAggBeginAsync(SecAggBeginRequest request, CancellationToken cancellationToken)
    {
        try
        {
            RoundState round = RequireRound(request.RoundId);
            if (round.SecAgg is not null)
            {
                throw new EnclaveFailure("InvalidState", "secure aggregation has already begun for this round");
            }

            VerifiedSpecification spec = round.Specification;
            SecAggBegin begin = _authority.VerifyBegin(request.Begin, spec);
            (List<ECDsa> keys, long totalSamples, int self) = CohortVerifier.Verify(begin, spec, _configuration, round.Attested);
            try
            {
                SecAggSpecification secagg = spec.Specification.Secagg;
                if (keys.Count < secagg.MinimumCohort)
                {
                    throw new EnclaveFailure("InvalidSecAggParameters", $"the cohort has {keys.Count} participants; the specification needs at least {secagg.MinimumCohort}");
                }

                SecAggParameters parameters;
                SecAggRound secRound;
                RingQuantizer quantizer;
                try
                {
                    parameters = SecAggParameters.Derive(keys.Count, secagg.DropoutFraction, secagg.CorruptionFraction);
                    secRound = new SecAggRound(spec.SessionId, parameters, begin.GraphSeed.Span, round.Delta.Length, (int)secagg.RingBits, keys);
                    quantizer = new RingQuantizer(secagg.Quantization.Clip, (int)secagg.Quantization.ScaleBits, (int)secagg.RingBits, keys.Count);
                }
                catch (ArgumentException ex)
                {
                    throw new EnclaveFailure("InvalidSecAggParameters", ex.Message);
                }

                // FedAvg weight n_k / n, applied before quantisation so that the unmasked sum is the weighted average.
                float weight = (float)(round.SampleCount / (double)totalSamples);
                float[] weighted = new float[round.Delta.Length];
                for (int i = 0; i < weighted.Length; i++)
                {
                    weighted[i] = round.Delta[i] * weight;
                }

                uint[] input = new uint[weighted.Length];
                byte[] roundingSeed = RandomNumberGenerator.GetBytes(32);
                QuantizationReport report = quantizer.Quantize(weighted, input, roundingSeed);
                CryptographicOperations.ZeroMemory(roundingSeed);
                Array.Clear(weighted);
                if (report.Clipped > 0)
                {
                    await _channel.LogAsync("info", $"clipped {report.Clipped} of {report.Length} update values to +/-{quantizer.Clip}", cancellationToken).ConfigureAwait(false);
                }

                if (_discloseInputs && Simulated)
                {
                    // Test mode of a simulated image only (Configure refuses it for hardware): lets a test check the
                    // unmasked sum exactly.
                    byte[] bytes = MemoryMarshal.AsBytes(input.AsSpan()).ToArray();
                    await _channel.LogAsync("warning", $"TEST-ONLY quantised input of client {self}: {Convert.ToBase64String(bytes)}", cancellationToken).ConfigureAwait(false);
                }

                var client = new SecAggClient(secRound, self, round.Keys.Signing);
                round.BeginSecAgg(client, input, keys);
                keys = [];
                return new SecAggStepResponse { Message = ByteString.CopyFrom(SecAggCodec.Encode(client.Advertise())) };
            }
            finally
            {
                foreach (ECDsa key in keys)
                {
                    key.Dispose();
                }
            }
        }
        catch (Exception ex) when (ToFailure(ex) is { } failure)
        {
            return new SecAggStepResponse { Failure = failure };
        }
    }

    // One stage of the staged protocol: the server's message in, this client's signed answer out.
    private SecAggStepResponse SecAggStep(SecAggStepRequest request)
    {
        try
        {
            RoundState round = RequireRound(request.RoundId);
            SecAggClient client = round.SecAgg ?? throw new EnclaveFailure("InvalidState", "secure aggregation has not begun for this round");
            _authority.VerifyStep(request, round.Specification);
            SecAggMessage message = SecAggCodec.Decode(request.Message.Span);
            if (message.RoundId != round.Specification.SessionId)
            {
                throw new EnclaveFailure("InvalidSecAggMessage", $"a message of session {message.RoundId} relayed for round {request.RoundId}");
            }

            SecAggMessage answer = message switch
            {
                KeyDirectory m => client.HandleKeys(m),
                ShareDelivery m => client.HandleShares(m, round.Input),
                SurvivorSet m => client.HandleSurvivors(m),
                Enclave.SecureAggregation.Staged.UnmaskRequest m => client.HandleUnmask(m),
                _ => throw new EnclaveFailure("InvalidSecAggMessage", $"{message.GetType().Name} is not a server message"),
            };
            if (message is ShareDelivery)
            {
                round.ClearInput();
            }

            return new SecAggStepResponse { Message = ByteString.CopyFrom(SecAggCodec.Encode(answer)) };
        }
        catch (Exception ex) when (ToFailure(ex) is { } failure)
        {
            return new SecAggStepResponse { Failure = failure };
        }
    }

    private async Task<ProbeReleaseResponse> ProbeAsync(ProbeReleaseRequest request, CancellationToken cancellationToken)
    {
        using RoundKeys keys = RoundKeys.Create();
        var response = new ProbeReleaseResponse();
        try
        {
            Attested attested = await _attestor.AttestAsync(keys, "probe-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), null, null, cancellationToken).ConfigureAwait(false);
            response.Region = attested.Region;
            response.Measurement = attested.Measurement;
            response.TokenId = attested.TokenId;
            (byte[] key, _) = await _attestor.ObtainDataKeyAsync(request.KeyName, attested.Token, keys, cancellationToken).ConfigureAwait(false);
            CryptographicOperations.ZeroMemory(key);
            response.Granted = true;
        }
        catch (Exception ex) when (ToFailure(ex) is { } failure)
        {
            response.Failure = failure;
        }

        return response;
    }

    private RoundState RequireRound(string roundId)
    {
        if (_round is null || _round.Specification.RoundId != roundId)
        {
            throw new EnclaveFailure("UnknownRound", $"this enclave has not prepared round {roundId}");
        }

        return _round;
    }

    private static SignedMessage Sign(RoundKeys keys, string kind, IMessage payload)
    {
        byte[] bytes = payload.ToByteArray();
        return new SignedMessage { Kind = kind, Payload = ByteString.CopyFrom(bytes), Signature = ByteString.CopyFrom(MessageSignature.Sign(keys.Signing, kind, bytes)) };
    }

    private static Failure? ToFailure(Exception ex) => ex switch
    {
        ArithmeticException d => new Failure { Code = "TrainingDiverged", Message = d.Message },
        EnclaveFailure f => new Failure { Code = f.Code, Message = f.Message },
        OcallFailedException o => new Failure { Code = o.Code, Message = o.Message },
        EncryptedDatasetException d => new Failure { Code = "Dataset" + d.Code, Message = d.Message },
        ExampleSetFormatException e => new Failure { Code = "ExampleSetMalformed", Message = e.Message },
        ParticipantRejectedException p => new Failure { Code = p.Code, Message = p.Message },
        SecAggException x => new Failure { Code = "SecAgg" + x.Code, Message = x.Message },
        EvidenceUnavailableException u => new Failure { Code = "EvidenceUnavailable", Message = u.Message },
        ArgumentException a => new Failure { Code = "InvalidRequest", Message = a.Message },
        InvalidOperationException i => new Failure { Code = "InvalidState", Message = i.Message },
        _ => null,
    };
}
