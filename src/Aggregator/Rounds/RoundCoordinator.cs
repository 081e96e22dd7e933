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
    private readonly Lazy<(byte[] Pixels, byte[] Labels, int Count)> _testSet;

    public RoundCoordinator(CoordinatorOptions options, IReadOnlyDictionary<string, RegionHost.RegionHostClient> hosts, KeyBroker.KeyBrokerClient? broker, ILogger logger)
    {
        _options = options;
        _hosts = hosts;
        _broker = broker;
        _logger = logger;
        _state = CoordinatorState.Load(options);
        _testSet = new Lazy<(byte[], byte[], int)>(() => FashionMnist.LoadTest(options.TestDataDirectory));
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

    private async Task<RoundSummary> RunRoundCoreAsync(CancellationToken cancellationToken)
    {
        uint round = _state.Round + 1;
        string roundId = $"round-{round}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}";
        var summary = new RoundSummary { Round = round, RoundId = roundId };
        CoordinatorLog.RoundStarted(_logger, round, roundId, _hosts.Count);

        // The round specification: everything an enclave takes about this round, signed with the coordinator key
        // the enclave image pins. Its hash is bound into each enclave's token and every message it signs.
        byte[] model = MemoryMarshal.AsBytes(_state.Model.AsSpan()).ToArray();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var specification = new RoundSpecification
        {
            Type = RoundBinding.SpecificationType,
            RoundId = roundId,
            Round = round,
            GlobalModelSha256 = ByteString.CopyFrom(SHA256.HashData(model)),
            Training = new TrainingConfig
            {
                Hidden = _options.Hidden,
                Epochs = _options.Epochs,
                BatchSize = _options.BatchSize,
                LearningRate = _options.LearningRate,
                Momentum = _options.Momentum,
                Seed = _options.Seed,
            },
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
        byte[] specBytes = specification.ToByteArray();
        byte[] specHash = SHA256.HashData(specBytes);
        string specHex = Convert.ToHexStringLower(specHash);
        string sessionId = RoundBinding.SessionId(roundId, specHash);
        summary.SpecificationSha256 = specHex;

        JwtValidationParameters validation = VerifierValidation();
        var policy = new ParticipantPolicy(_options.AllowedMeasurements, _hosts.Keys.ToArray(), _options.AllowSimulated, RequiredSpecification: specHex);

        // Stage 1: prepare. Every host's enclave attests, obtains its data key and trains; failures drop that region.
        Stage(round, "prepare");
        var prepare = new PrepareRequest { Specification = SignCoordinator(RoundBinding.SpecificationKind, specBytes), GlobalModel = ByteString.CopyFrom(model) };
        var accepted = new Dictionary<string, Accepted>(StringComparer.Ordinal);
        foreach ((string region, PrepareResponse? response, Failure? failure) in await FanOutAsync(_hosts.Keys, (host, ct) => host.PrepareAsync(prepare, cancellationToken: ct).ResponseAsync, cancellationToken).ConfigureAwait(false))
        {
            Failure? problem = failure ?? (response!.ResultCase == PrepareResponse.ResultOneofCase.Failure ? response.Failure : null);
            if (problem is not null)
            {
                AddFailure(summary, region, "prepare", problem.Code, problem.Message);
                continue;
            }

            try
            {
                (AttestedParticipant participant, Advertisement ad) = VerifyAdvertisement(response!.Advertisement, validation, policy, specification, specHash, region);
                accepted[region] = new Accepted(participant, ad, response.Advertisement);
            }
            catch (ParticipantRejectedException ex)
            {
                AddFailure(summary, region, "prepare", ex.Code, ex.Message);
            }
        }

        if (accepted.Count < _options.MinimumParticipants)
        {
            return Abort(summary, $"only {accepted.Count} region(s) prepared; at least {_options.MinimumParticipants} are needed");
        }

        // Staged secure aggregation. Client i is the i-th accepted region in ordinal order; its messages are
        // verified against the signing key of its attested token. A region that fails or times out in a stage is
        // a dropout; the round goes on while at least the threshold of clients remains, and the server recovers
        // dropped clients' pairwise masks from their Shamir shares. Degree and threshold follow from the cohort
        // size and the specification (SecAggParameters.Derive), exactly as each enclave derives them.
        string[] cohort = [.. accepted.Keys.Order(StringComparer.Ordinal)];
        int n = cohort.Length;
        SecAggParameters parameters;
        try
        {
            parameters = SecAggParameters.Derive(n, _options.DropoutFraction, 0);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            return Abort(summary, $"no safe secure-aggregation threshold for {n} participant(s): {ex.Message}");
        }

        byte[] graphSeed = RandomNumberGenerator.GetBytes(32);
        var beginBody = new SecAggBegin
        {
            SpecificationSha256 = ByteString.CopyFrom(specHash),
            TotalSamples = accepted.Values.Sum(a => a.Advertisement.SampleCount),
            GraphSeed = ByteString.CopyFrom(graphSeed),
        };
        beginBody.Participants.AddRange(cohort.Select(region => new Participant { Advertisement = accepted[region].Signed }));
        var begin = new SecAggBeginRequest { RoundId = roundId, Begin = SignCoordinator(RoundBinding.BeginKind, beginBody.ToByteArray()) };
        ECDsa[] verificationKeys = [.. cohort.Select(region => accepted[region].Participant.SigningKey.CreateECDsa())];
        SecAggResult result;
        var maskedHashes = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            var secRound = new SecAggRound(sessionId, parameters, graphSeed, _state.Model.Length, RingBits, verificationKeys);
            var server = new SecAggServer(secRound);
            var index = cohort.Select((region, i) => (region, i)).ToDictionary(p => p.region, p => p.i + 1, StringComparer.Ordinal);

            void Accept(string stage, string region, SecAggStepResponse? response, Failure? failure)
            {
                Failure? problem = failure ?? (response!.ResultCase == SecAggStepResponse.ResultOneofCase.Failure ? response.Failure : null);
                if (problem is not null)
                {
                    AddFailure(summary, region, stage, problem.Code, problem.Message);
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
                    AddFailure(summary, region, stage, "SecAgg" + ex.Code, ex.Message);
                }
            }

            Stage(round, "advertise-keys");
            foreach ((string region, SecAggStepResponse? response, Failure? failure) in await FanOutAsync(cohort, (host, ct) => host.SecAggBeginAsync(begin, cancellationToken: ct).ResponseAsync, cancellationToken).ConfigureAwait(false))
            {
                Accept("advertise-keys", region, response, failure);
            }

            async Task StepAsync(string stage, IEnumerable<(int Recipient, SecAggMessage Message)> messages)
            {
                Stage(round, stage);
                Dictionary<string, SecAggStepRequest> requests = messages.ToDictionary(
                    m => cohort[m.Recipient - 1],
                    m => SignStep(roundId, specHash, SecAggCodec.Encode(m.Message)),
                    StringComparer.Ordinal);
                foreach ((string region, SecAggStepResponse? response, Failure? failure) in await FanOutAsync(requests.Keys, (region, host, ct) => host.SecAggStepAsync(requests[region], cancellationToken: ct).ResponseAsync, cancellationToken).ConfigureAwait(false))
                {
                    Accept(stage, region, response, failure);
                }
            }

            await StepAsync("share-keys", server.CloseAdvertiseKeys().Select(m => (m.Recipient, (SecAggMessage)m))).ConfigureAwait(false);
            await StepAsync("masked-input", server.CloseShareKeys().Select(m => (m.Recipient, (SecAggMessage)m))).ConfigureAwait(false);
            await StepAsync("consistency-check", server.CloseMaskedInput().Select(m => (m.Recipient, (SecAggMessage)m))).ConfigureAwait(false);
            await StepAsync("unmask", server.CloseConsistencyCheck().Select(m => (m.Recipient, (SecAggMessage)m))).ConfigureAwait(false);
            result = server.CloseUnmask();
        }
        catch (SecAggException ex)
        {
            return Abort(summary, $"secure aggregation cannot complete: {ex.Message}");
        }
        finally
        {
            foreach (ECDsa key in verificationKeys)
            {
                key.Dispose();
            }
        }

        string[] survivors = [.. result.Survivors.Select(i => cohort[i - 1])];
        long survivorSamples = survivors.Sum(region => accepted[region].Advertisement.SampleCount);
        long totalSamples = beginBody.TotalSamples;
        summary.AggregateSha256 = Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(result.Sum.AsSpan())));

        // FedAvg: the participants weighted their deltas by n_k / n over the whole cohort; dividing the survivors'
        // sum by (survivor samples / n) makes it the survivors' sample-weighted average delta.
        var quantizer = new RingQuantizer(_options.Clip, _options.ScaleBits, RingBits, n);
        float[] delta = new float[_state.Model.Length];
        quantizer.Dequantize(result.Sum, delta, survivorSamples / (double)totalSamples);
        string previousModelHash = _state.ModelHash;
        float[] next = new float[delta.Length];
        for (int i = 0; i < next.Length; i++)
        {
            next[i] = _state.Model[i] + delta[i];
        }

        (byte[] pixels, byte[] labels, int count) = _testSet.Value;
        double accuracy = MlpModel.Accuracy(next, _options.Hidden, pixels, labels, count);
        summary.Accuracy = accuracy;
        summary.ModelSha256 = CoordinatorState.HashOf(next);
        foreach (string region in survivors)
        {
            Accepted a = accepted[region];
            summary.Participants.Add(new ParticipantSummary
            {
                Region = region,
                Measurement = a.Participant.Measurement,
                TokenId = a.Participant.TokenId,
                KeyReceiptId = a.Advertisement.KeyReceiptId,
                SampleCount = a.Advertisement.SampleCount,
                MaskedInputSha256 = maskedHashes[region],
                TrainAccuracy = a.Advertisement.TrainAccuracy,
                Simulated = a.Participant.Simulated,
                DatasetId = a.Advertisement.DatasetId,
                KeyId = a.Advertisement.KeyId,
            });
        }

        // The model advances only once its manifest is durably recorded: written to the manifests folder and, with a
        // broker, appended to its audit log. A manifest the broker refuses leaves the model where it was.
        try
        {
            Stage(round, "manifest");
            await PublishManifestAsync(summary, previousModelHash, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            string code = ex.Trailers.GetValue("reason-code") ?? ex.StatusCode.ToString();
            summary.Participants.Clear();
            return Abort(summary, $"the broker refused the round manifest ({code}): {ex.Status.Detail}");
        }

        _state.Advance(round, next);
        summary.Completed = true;
        CoordinatorLog.RoundCompleted(_logger, round, accuracy, summary.Participants.Count, summary.Failures.Count);
        return summary;
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

    private static (AttestedParticipant, Advertisement) VerifyAdvertisement(SignedMessage signed, JwtValidationParameters validation, ParticipantPolicy policy, RoundSpecification specification, byte[] specHash, string region)
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
}
