// Runs federated rounds: prepare (attest, release, train) -> staged secure aggregation (advertise keys, share
// keys, masked input, consistency check, unmask) -> FedAvg over the survivors -> manifest.
// The coordinator accepts a participant only through its attestation token (trusted verifier, allowed
// measurement and region, not debug) and only messages signed by that token's key. It sees masked vectors and
// the unmasked sum, never an individual update.
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Aggregator.Data;
using Enclave.Aggregator.Model;
using Enclave.Crypto;
using Enclave.Protocol;
using Enclave.Training;
using Enclave.Protocol.Broker;
using Enclave.Protocol.Coordinator;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;
using Enclave.SecureAggregation.Staged;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Enclave.Aggregator.Rounds;

public sealed class RoundCoordinator
{
    private readonly CoordinatorOptions _options;
    private readonly IReadOnlyDictionary<string, RegionHost.RegionHostClient> _hosts;
    private readonly KeyBroker.KeyBrokerClient? _broker;
    private readonly ILogger _logger;
    private readonly CoordinatorState _state;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly object _statusLock = new();
    private uint _runningRound;
    private string _stage = string.Empty;
    private RoundSummary? _last;
    private readonly RoundMetrics.StageClock _stageClock = new();
    private readonly Lazy<ExampleSet> _testSet;
    private readonly ModelSpec _model;
    private readonly ServerOptimizerState _serverOptimizer;

    public RoundCoordinator(CoordinatorOptions options, IReadOnlyDictionary<string, RegionHost.RegionHostClient> hosts, KeyBroker.KeyBrokerClient? broker, ILogger logger)
    {
        _options = options;
        _hosts = hosts;
        _broker = broker;
        _logger = logger;
        _state = CoordinatorState.Load(options);
        _serverOptimizer = new ServerOptimizerState(options.Plan.Plan.Algorithm.Server, _state.Model.Length);
        _model = ModelSpec.For(options.Plan.Plan.Model);
        _testSet = new Lazy<ExampleSet>(() =>
        {
            (byte[] pixels, byte[] labels, int _) = FashionMnist.LoadTest(options.TestDataDirectory);
            return ExampleSet.Create(labels, pixels, FashionMnist.Side, FashionMnist.Side);
        });
    }

    public ReadOnlyMemory<float> GlobalModel => _state.Model;

    public async Task<RoundSummary> RunRoundAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long started = System.Diagnostics.Stopwatch.GetTimestamp();
            RoundSummary summary = await RunRoundCoreAsync(cancellationToken).ConfigureAwait(false);
            RoundMetrics.Round(summary.Completed, System.Diagnostics.Stopwatch.GetElapsedTime(started));
            lock (_statusLock)
            {
                _last = summary;
            }

            return summary;
        }
        finally
        {
            Stage(0, string.Empty);
            _gate.Release();
        }
    }

    /// <summary>Rounds done, the model, and the stage of a round under way (for `enclave round status`).</summary>
    public CoordinatorStatus Status()
    {
        lock (_statusLock)
        {
            var status = new CoordinatorStatus
            {
                Round = _state.Round,
                ModelSha256 = _state.ModelHash,
                Running = _runningRound != 0,
                RunningRound = _runningRound,
                Stage = _stage,
                Last = _last,
            };
            status.Regions.AddRange(_hosts.Keys.Order(StringComparer.Ordinal));
            return status;
        }
    }

    private void Stage(uint round, string stage)
    {
        _stageClock.Enter(stage);
        lock (_statusLock)
        {
            _runningRound = round;
            _stage = stage;
        }
    }

    // One round, one method per stage: specify -> prepare -> secure aggregation -> FedAvg -> manifest, then advance.
    private async Task<RoundSummary> RunRoundCoreAsync(CancellationToken cancellationToken)
    {
        RoundContext context = Specify();
        CoordinatorLog.RoundStarted(_logger, context.Round, context.RoundId, _hosts.Count);
        try
        {
            Dictionary<string, Accepted> accepted = await PrepareAsync(context, cancellationToken).ConfigureAwait(false);
            Aggregate aggregate = await AggregateAsync(context, accepted, cancellationToken).ConfigureAwait(false);
            float[] next = Average(context, accepted, aggregate);
            await PublishAsync(context, accepted, aggregate, next, cancellationToken).ConfigureAwait(false);
            _state.Advance(context.Round, next);
            context.Summary.Completed = true;
            CoordinatorLog.RoundCompleted(_logger, context.Round, context.Summary.Accuracy, context.Summary.Participants.Count, context.Summary.Failures.Count);
            return context.Summary;
        }
        catch (RoundAbortedException ex)
        {
            return Abort(context.Summary, ex.Message);
        }
    }

    // The round specification: everything an enclave takes about this round, signed with the coordinator key the
    // enclave image pins. Its hash is bound into each enclave's token and every message it signs.
    private RoundContext Specify()
    {
        uint round = _state.Round + 1;
        string roundId = $"round-{round}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";
        byte[] model = MemoryMarshal.AsBytes(_state.Model.AsSpan()).ToArray();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var specification = new RoundSpecification
        {
            Type = RoundBinding.SpecificationType,
            RoundId = roundId,
            Round = round,
            GlobalModelSha256 = ByteString.CopyFrom(SHA256.HashData(model)),
            Plan = _options.Plan.Compact,
            PlanOwnerKey = _options.PlanOwnerKey.ToJson(),
            Secagg = new SecAggSpecification
            {
                Quantization = new QuantizationConfig { Clip = _options.Clip, ScaleBits = (uint)_options.ScaleBits },
                RingBits = RingBits,
                DropoutFraction = _options.DropoutFraction,
                MinimumCohort = (uint)Math.Max(3, _options.MinimumParticipants),
            },
            IssuedAt = now.ToUnixTimeSeconds(),
            ExpiresAt = (now + _options.SpecificationLifetime).ToUnixTimeSeconds(),
        };
        specification.Cohort.AddRange(_options.Hosts.Select(h => new CohortMember { Region = h.Region, DatasetId = h.DatasetId, KeyId = h.KeyId, MaxSamples = _options.MaxSamplesPerParticipant }));
        byte[] bytes = specification.ToByteArray();
        var context = new RoundContext(round, roundId, specification, bytes, SHA256.HashData(bytes), model, new RoundSummary { Round = round, RoundId = roundId });
        context.Summary.SpecificationSha256 = Convert.ToHexStringLower(context.SpecificationHash);
        return context;
    }

    // Stage 1: every host's enclave attests, obtains its data key and trains; a region that fails is dropped. An
    // advertisement is accepted only from a token of the pinned verifier for this specification.
    private async Task<Dictionary<string, Accepted>> PrepareAsync(RoundContext context, CancellationToken cancellationToken)
    {
        Stage(context.Round, "prepare");
        JwtValidationParameters validation = VerifierValidation();
        var policy = new ParticipantPolicy(_options.AllowedMeasurements, _hosts.Keys.ToArray(), _options.AllowSimulated, RequiredSpecification: context.Summary.SpecificationSha256);
        var prepare = new PrepareRequest { Specification = SignCoordinator(RoundBinding.SpecificationKind, context.SpecificationBytes), GlobalModel = ByteString.CopyFrom(context.Model) };
        var accepted = new Dictionary<string, Accepted>(StringComparer.Ordinal);
        foreach ((string region, PrepareResponse? response, Failure? failure) in await FanOutAsync(_hosts.Keys, (host, ct) => host.PrepareAsync(prepare, cancellationToken: ct).ResponseAsync, cancellationToken).ConfigureAwait(false))
        {
            Failure? problem = failure ?? (response!.ResultCase == PrepareResponse.ResultOneofCase.Failure ? response.Failure : null);
            if (problem is not null)
            {
                AddFailure(context.Summary, region, "prepare", problem.Code, problem.Message);
                continue;
            }

            try
            {
                (AttestedParticipant participant, Advertisement ad) = VerifyAdvertisement(response!.Advertisement, validation, policy, context.Specification, context.SpecificationHash, _options.Plan.Plan, region);
                accepted[region] = new Accepted(participant, ad, response.Advertisement);
            }
            catch (ParticipantRejectedException ex)
            {
                AddFailure(context.Summary, region, "prepare", ex.Code, ex.Message);
            }
        }

        if (accepted.Count < _options.MinimumParticipants)
        {
            throw new RoundAbortedException($"only {accepted.Count} region(s) prepared; at least {_options.MinimumParticipants} are needed");
        }

        return accepted;
    }

    // Staged secure aggregation. Client i is the i-th accepted region in ordinal order; its messages are verified
    // against the signing key of its attested token. A region that fails or times out in a stage is a dropout; the
    // round goes on while at least the threshold of clients remains, and the server recovers dropped clients'
    // pairwise masks from their Shamir shares. Degree and threshold follow from the cohort size and the
    // specification (SecAggParameters.Derive), exactly as each enclave derives them.
    private async Task<Aggregate> AggregateAsync(RoundContext context, Dictionary<string, Accepted> accepted, CancellationToken cancellationToken)
    {
        string[] cohort = [.. accepted.Keys.Order(StringComparer.Ordinal)];
        SecAggParameters parameters;
        try
        {
            parameters = SecAggParameters.Derive(cohort.Length, _options.DropoutFraction, 0);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new RoundAbortedException($"no safe secure-aggregation threshold for {cohort.Length} participant(s): {ex.Message}");
        }

        byte[] graphSeed = RandomNumberGenerator.GetBytes(32);
        var body = new SecAggBegin
        {
            SpecificationSha256 = ByteString.CopyFrom(context.SpecificationHash),
            TotalSamples = accepted.Values.Sum(a => a.Advertisement.SampleCount),
            GraphSeed = ByteString.CopyFrom(graphSeed),
        };
        body.Participants.AddRange(cohort.Select(region => new Participant { Advertisement = accepted[region].Signed }));
        var begin = new SecAggBeginRequest { RoundId = context.RoundId, Begin = SignCoordinator(RoundBinding.BeginKind, body.ToByteArray()) };
        ECDsa[] verificationKeys = [.. cohort.Select(region => accepted[region].Participant.SigningKey.CreateECDsa())];
        var maskedHashes = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            var server = new SecAggServer(new SecAggRound(RoundBinding.SessionId(context.RoundId, context.SpecificationHash), parameters, graphSeed, _state.Model.Length, RingBits, verificationKeys));
            var index = cohort.Select((region, i) => (region, i)).ToDictionary(p => p.region, p => p.i + 1, StringComparer.Ordinal);

            void Accept(string stage, string region, SecAggStepResponse? response, Failure? failure)
            {
                Failure? problem = failure ?? (response!.ResultCase == SecAggStepResponse.ResultOneofCase.Failure ? response.Failure : null);
                if (problem is not null)
                {
                    AddFailure(context.Summary, region, stage, problem.Code, problem.Message);
                    return;
                }

                try
                {
                    SecAggMessage message = SecAggCodec.Decode(response!.Message.Span);
                    int sender = message switch
                    {
                        AdvertiseKeys m => m.Sender,
                        ShareKeys m => m.Sender,
                        Enclave.SecureAggregation.Staged.MaskedInput m => m.Sender,
                        ConsistencySignature m => m.Sender,
                        Enclave.SecureAggregation.Staged.UnmaskResponse m => m.Sender,
                        _ => 0,
                    };
                    if (sender != index[region])
                    {
                        throw new SecAggException(SecAggErrorCode.Inconsistent, $"the host for {region} relayed a message of client {sender}, expected {index[region]}");
                    }

                    server.Receive(message);
                    if (message is Enclave.SecureAggregation.Staged.MaskedInput masked)
                    {
                        maskedHashes[region] = Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(masked.Vector.AsSpan())));
                    }
                }
                catch (SecAggException ex)
                {
                    AddFailure(context.Summary, region, stage, "SecAgg" + ex.Code, ex.Message);
                }
            }

            async Task StepAsync(string stage, IEnumerable<(int Recipient, SecAggMessage Message)> messages)
            {
                Stage(context.Round, stage);
                Dictionary<string, SecAggStepRequest> requests = messages.ToDictionary(
                    m => cohort[m.Recipient - 1],
                    m => SignStep(context.RoundId, context.SpecificationHash, SecAggCodec.Encode(m.Message)),
                    StringComparer.Ordinal);
                foreach ((string region, SecAggStepResponse? response, Failure? failure) in await FanOutAsync(requests.Keys, (region, host, ct) => host.SecAggStepAsync(requests[region], cancellationToken: ct).ResponseAsync, cancellationToken).ConfigureAwait(false))
                {
                    Accept(stage, region, response, failure);
                }
            }

            Stage(context.Round, "advertise-keys");
            foreach ((string region, SecAggStepResponse? response, Failure? failure) in await FanOutAsync(cohort, (host, ct) => host.SecAggBeginAsync(begin, cancellationToken: ct).ResponseAsync, cancellationToken).ConfigureAwait(false))
            {
                Accept("advertise-keys", region, response, failure);
            }

            await StepAsync("share-keys", server.CloseAdvertiseKeys().Select(m => (m.Recipient, (SecAggMessage)m))).ConfigureAwait(false);
            await StepAsync("masked-input", server.CloseShareKeys().Select(m => (m.Recipient, (SecAggMessage)m))).ConfigureAwait(false);
            await StepAsync("consistency-check", server.CloseMaskedInput().Select(m => (m.Recipient, (SecAggMessage)m))).ConfigureAwait(false);
            await StepAsync("unmask", server.CloseConsistencyCheck().Select(m => (m.Recipient, (SecAggMessage)m))).ConfigureAwait(false);
            SecAggResult result = server.CloseUnmask();
            return new Aggregate([.. result.Survivors.Select(i => cohort[i - 1])], result.Sum, cohort.Length, body.TotalSamples, maskedHashes);
        }
        catch (SecAggException ex)
        {
            throw new RoundAbortedException($"secure aggregation cannot complete: {ex.Message}");
        }
        finally
        {
            foreach (ECDsa key in verificationKeys)
            {
                key.Dispose();
            }
        }
    }

    // FedAvg: the participants weighted their deltas by n_k / n over the whole cohort; dividing the survivors' sum by
    // (survivor samples / n) makes it the survivors' sample-weighted average delta. The new model is evaluated on the
    // test set; it replaces the old one only once its manifest is recorded.
    private float[] Average(RoundContext context, Dictionary<string, Accepted> accepted, Aggregate aggregate)
    {
        long survivorSamples = aggregate.Survivors.Sum(region => accepted[region].Advertisement.SampleCount);
        context.Summary.AggregateSha256 = Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(aggregate.Sum.AsSpan())));
        var quantizer = new RingQuantizer(_options.Clip, _options.ScaleBits, RingBits, aggregate.CohortSize);
        float[] delta = new float[_state.Model.Length];
        quantizer.Dequantize(aggregate.Sum, delta, survivorSamples / (double)aggregate.TotalSamples);
        float[] next = _serverOptimizer.Step(_state.Model, delta);
        context.Summary.Accuracy = ModelEvaluator.Evaluate(_model, next, _testSet.Value).Accuracy;
        context.Summary.ModelSha256 = CoordinatorState.HashOf(next);
        return next;
    }

    // The model advances only once its manifest is durably recorded: with a broker, appended to its audit log, and
    // written to the manifests folder. A manifest the broker refuses aborts the round with the model where it was.
    private async Task PublishAsync(RoundContext context, Dictionary<string, Accepted> accepted, Aggregate aggregate, float[] next, CancellationToken cancellationToken)
    {
        foreach (string region in aggregate.Survivors)
        {
            Accepted a = accepted[region];
            context.Summary.Participants.Add(new ParticipantSummary
            {
                Region = region,
                Measurement = a.Participant.Measurement,
                TokenId = a.Participant.TokenId,
                KeyReceiptId = a.Advertisement.KeyReceiptId,
                SampleCount = a.Advertisement.SampleCount,
                MaskedInputSha256 = aggregate.MaskedHashes[region],
                TrainAccuracy = a.Advertisement.TrainAccuracy,
                Simulated = a.Participant.Simulated,
                DatasetId = a.Advertisement.DatasetId,
                KeyId = a.Advertisement.KeyId,
            });
        }

        try
        {
            Stage(context.Round, "manifest");
            await PublishManifestAsync(context.Summary, _state.ModelHash, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            string code = ex.Trailers.GetValue("reason-code") ?? ex.StatusCode.ToString();
            context.Summary.Participants.Clear();
            throw new RoundAbortedException($"the broker refused the round manifest ({code}): {ex.Status.Detail}");
        }
    }

    private async Task PublishManifestAsync(RoundSummary summary, string previousModelHash, CancellationToken cancellationToken)
    {
        var participants = new JsonArray();
        foreach (ParticipantSummary p in summary.Participants)
        {
            participants.Add(new JsonObject
            {
                ["region"] = p.Region,
                ["tokenId"] = p.TokenId,
                ["measurement"] = p.Measurement,
                ["keyReceiptId"] = p.KeyReceiptId,
                ["sampleCount"] = p.SampleCount,
                ["maskedInputSha256"] = p.MaskedInputSha256,
                ["simulated"] = p.Simulated,
                ["datasetId"] = p.DatasetId,
                ["keyId"] = p.KeyId,
            });
        }

        var failures = new JsonArray();
        foreach (RegionFailure f in summary.Failures)
        {
            failures.Add(new JsonObject { ["region"] = f.Region, ["stage"] = f.Stage, ["code"] = f.Code });
        }

        var manifest = new JsonObject
        {
            ["type"] = "enclave-round-manifest/1",
            ["round"] = summary.Round,
            ["roundId"] = summary.RoundId,
            ["specificationSha256"] = summary.SpecificationSha256,
            ["planSha256"] = _options.Plan.Plan.Sha256Hex,
            ["planSigner"] = _options.Plan.Signer,
            ["privacy"] = PrivacyRecord(summary.Round),
            ["issuedAt"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["participants"] = participants,
            ["failures"] = failures,
            ["previousModelSha256"] = previousModelHash,
            ["modelSha256"] = summary.ModelSha256,
            ["accuracy"] = summary.Accuracy,
            ["aggregateSha256"] = summary.AggregateSha256,
        };
        byte[] payload = Encoding.UTF8.GetBytes(manifest.ToJsonString());
        string signed = Jws.Sign(payload, _state.SigningKey, _state.SigningKeyId, "enclave-manifest+jws");
        summary.ManifestSha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(signed)));
        string manifests = Path.Combine(_options.DataDirectory, "manifests");
        Directory.CreateDirectory(manifests);
        if (_broker is not null)
        {
            RecordManifestResponse receipt = await _broker.RecordManifestAsync(new RecordManifestRequest { SignedManifest = signed }, cancellationToken: cancellationToken).ConfigureAwait(false);
            summary.ManifestReceiptId = receipt.ReceiptId;
        }

        CoordinatorState.WriteAtomically(Path.Combine(manifests, $"round-{summary.Round:D4}.jws"), Encoding.ASCII.GetBytes(signed));
    }

    // Under record-level DP: what each participating dataset spent this round, and through this round if it took part
    // in every round so far (the key broker's ledger holds each dataset's exact sum); both from the plan's accountant.
    private JsonObject? PrivacyRecord(uint round)
    {
        Privacy.TrainingPlan plan = _options.Plan.Plan;
        if (plan.Privacy is not { } dp)
        {
            return null;
        }

        return new JsonObject
        {
            ["samplingRate"] = dp.SamplingRate,
            ["noiseMultiplier"] = dp.NoiseMultiplier,
            ["steps"] = dp.StepsPerRound,
            ["delta"] = dp.Delta,
            ["epsilonRound"] = plan.EpsilonAfter(1)!.Value.Epsilon,
            ["epsilonThroughRound"] = plan.EpsilonAfter((int)round)!.Value.Epsilon,
        };
    }

    private JwtValidationParameters VerifierValidation()
    {
        string issuer = _options.VerifierIssuer.ToString().TrimEnd('/');
        JwkSet keys = _options.VerifierKeys;
        return new JwtValidationParameters { ValidIssuers = [issuer], KeyResolver = kid => kid is null ? null : keys.Find(kid) };
    }

    private CoordinatorSigned SignCoordinator(string kind, byte[] payload) => new()
    {
        Payload = ByteString.CopyFrom(payload),
        Signature = ByteString.CopyFrom(MessageSignature.Sign(_state.SigningKey, kind, payload)),
        KeyId = _state.SigningKeyId,
    };

    private SecAggStepRequest SignStep(string roundId, byte[] specHash, byte[] message) => new()
    {
        RoundId = roundId,
        Message = ByteString.CopyFrom(message),
        Signature = ByteString.CopyFrom(MessageSignature.Sign(_state.SigningKey, RoundBinding.StepKind, RoundBinding.StepPayload(specHash, message))),
        KeyId = _state.SigningKeyId,
    };

    private static (AttestedParticipant, Advertisement) VerifyAdvertisement(SignedMessage signed, JwtValidationParameters validation, ParticipantPolicy policy, RoundSpecification specification, byte[] specHash, Privacy.TrainingPlan plan, string region)
    {
        Advertisement ad = Parse(signed, "advertise", Advertisement.Parser);
        AttestedParticipant participant = AttestedParticipant.FromToken(ad.Token, validation, policy);
        if (!participant.VerifySignature(signed.Kind, signed.Payload.Span, signed.Signature.Span))
        {
            throw new ParticipantRejectedException("BadSignature", $"the advertisement of {region} is not signed by its attested key");
        }

        if (participant.Region != region || ad.Region != region)
        {
            throw new ParticipantRejectedException("RegionMismatch", $"the host for {region} presented an enclave attested in {participant.Region}");
        }

        CohortMember member = specification.Cohort.Single(m => m.Region == region);
        if (ad.RoundId != specification.RoundId || !ad.SpecificationSha256.Span.SequenceEqual(specHash) || ad.DatasetId != member.DatasetId || ad.KeyId != member.KeyId)
        {
            throw new ParticipantRejectedException("InvalidAdvertisement", $"the advertisement of {region} is for another round, specification, dataset or key");
        }

        if (!ad.PlanSha256.Span.SequenceEqual(plan.Sha256))
        {
            throw new ParticipantRejectedException("PlanMismatch", $"the advertisement of {region} was trained by another plan than the round's");
        }

        if (ad.SampleCount <= 0 || ad.SampleCount > member.MaxSamples)
        {
            throw new ParticipantRejectedException("InvalidAdvertisement", $"the advertisement of {region} claims a weight of {ad.SampleCount}; 1 to {member.MaxSamples} are allowed");
        }

        return (participant, ad);
    }

    private static T Open<T>(SignedMessage signed, string kind, AttestedParticipant participant, MessageParser<T> parser)
        where T : IMessage<T>
    {
        T message = Parse(signed, kind, parser);
        if (!participant.VerifySignature(kind, signed.Payload.Span, signed.Signature.Span))
        {
            throw new ParticipantRejectedException("BadSignature", $"a {kind} message is not signed by the key attested for {participant.Region}");
        }

        return message;
    }

    private static T Parse<T>(SignedMessage? signed, string kind, MessageParser<T> parser)
        where T : IMessage<T>
    {
        if (signed is null || signed.Kind != kind)
        {
            throw new ParticipantRejectedException("InvalidMessage", $"expected a signed {kind} message");
        }

        try
        {
            return ProtoWire.Parse(parser, signed.Payload.Span);
        }
        catch (InvalidDataException ex)
        {
            throw new ParticipantRejectedException("InvalidMessage", $"a {kind} message is malformed: {ex.Message}");
        }
    }

    private Task<List<(string Region, T? Response, Failure? Failure)>> FanOutAsync<T>(
        IEnumerable<string> regions, Func<RegionHost.RegionHostClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
        where T : class =>
        FanOutAsync(regions, (_, host, ct) => call(host, ct), cancellationToken);

    private async Task<List<(string Region, T? Response, Failure? Failure)>> FanOutAsync<T>(
        IEnumerable<string> regions, Func<string, RegionHost.RegionHostClient, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
        where T : class
    {
        var tasks = regions.Select(async region =>
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.StageTimeout);
            try
            {
                return (region, (T?)await call(region, _hosts[region], timeout.Token).ConfigureAwait(false), (Failure?)null);
            }
            catch (RpcException ex)
            {
                return (region, (T?)null, new Failure { Code = "Host" + ex.StatusCode, Message = ex.Status.Detail });
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return (region, (T?)null, new Failure { Code = "HostTimeout", Message = $"no answer within {_options.StageTimeout}" });
            }
        }).ToList();
        return (await Task.WhenAll(tasks).ConfigureAwait(false)).OrderBy(r => r.region, StringComparer.Ordinal).ToList();
    }

    private void AddFailure(RoundSummary summary, string region, string stage, string code, string message)
    {
        summary.Failures.Add(new RegionFailure { Region = region, Stage = stage, Code = code, Message = message });
        RoundMetrics.Dropout(stage, code);
        CoordinatorLog.RegionFailed(_logger, summary.Round, region, stage, code, message);
    }

    private RoundSummary Abort(RoundSummary summary, string reason)
    {
        summary.Completed = false;
        summary.Accuracy = double.NaN;
        summary.ModelSha256 = _state.ModelHash;
        CoordinatorLog.RoundAborted(_logger, summary.Round, reason);
        summary.Failures.Add(new RegionFailure { Region = "*", Stage = "round", Code = "RoundAborted", Message = reason });
        return summary;
    }

    /// <summary>The ring of the staged protocol, Z_2^32.</summary>
    private const int RingBits = 32;

    private sealed record Accepted(AttestedParticipant Participant, Advertisement Advertisement, SignedMessage Signed);

    private sealed record RoundContext(uint Round, string RoundId, RoundSpecification Specification, byte[] SpecificationBytes, byte[] SpecificationHash, byte[] Model, RoundSummary Summary);

    private sealed record Aggregate(string[] Survivors, uint[] Sum, int CohortSize, long TotalSamples, Dictionary<string, string> MaskedHashes);

    /// <summary>Ends a round early; the message is the reason recorded in the summary.</summary>
    private sealed class RoundAbortedException : Exception
    {
        public RoundAbortedException(string message)
            : base(message)
        {
        }
    }
}
