// The enclave's request loop. Each host request is served to completion before the next is read; the state of
// the current round (keys, token, local update, masking client) lives only here, in enclave memory.
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.EnclaveApp.Attestation;
using Enclave.EnclaveApp.Boundary;
using Enclave.EnclaveApp.Data;
using Enclave.EnclaveApp.Keys;
using Enclave.EnclaveApp.Rounds;
using Enclave.EnclaveApp.Training;
using Enclave.Protocol;
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
            Attested attested = await AttestAsync(keys, spec.RoundId, spec.Hex, cancellationToken).ConfigureAwait(false);
            CohortMember member = spec.MemberFor(attested.Region);
            await _channel.LogAsync("info", $"attested as {attested.TokenId} in region {attested.Region}{(Simulated ? " (SIMULATED evidence)" : string.Empty)}; round {spec.RoundId}, dataset {member.DatasetId}", cancellationToken).ConfigureAwait(false);
            (byte[] dataKey, ReleasedKey released) = await ObtainDataKeyAsync(member.KeyId, attested.Token, keys, cancellationToken).ConfigureAwait(false);
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
            TrainingConfig t = spec.Specification.Training;
            var options = new TrainingOptions(t.Hidden, t.Epochs, t.BatchSize, t.LearningRate, t.Momentum, t.Seed + spec.Specification.Round);
            if (LocalTrainer.ParameterCount(options.Hidden) != global.Length)
            {
                throw new EnclaveFailure("ModelShapeMismatch", $"global model has {global.Length} parameters; hidden size {options.Hidden} needs {LocalTrainer.ParameterCount(options.Hidden)}");
            }

            TrainingResult result = LocalTrainer.Train(global, examples, options);
            long weight = Math.Min(result.SampleCount, member.MaxSamples);
            await _channel.LogAsync("info", $"trained on {result.SampleCount} examples (FedAvg weight {weight}): loss {result.FinalLoss:F4}, train accuracy {result.TrainAccuracy:F4}", cancellationToken).ConfigureAwait(false);

            var advertisement = new Advertisement
            {
                RoundId = spec.RoundId,
                Region = attested.Region,
                Token = attested.Token,
                SampleCount = weight,
                KeyReceiptId = released.ReceiptId,
                KeyVersion = released.KeyVersion,
                TrainLoss = result.FinalLoss,
                TrainAccuracy = result.TrainAccuracy,
                SpecificationSha256 = ByteString.CopyFrom(spec.Sha256),
                DatasetId = member.DatasetId,
                KeyId = member.KeyId,
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
            var policy = new ParticipantPolicy([round.Attested.Measurement], spec.Regions.ToArray(), AllowSimulated: Simulated, RequiredSpecification: spec.Hex);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var keys = new List<ECDsa>(begin.Participants.Count);
            long totalSamples = 0;
            int self = 0;
            try
            {
                foreach (Participant participant in begin.Participants)
                {
                    (AttestedParticipant peer, Advertisement ad) = VerifyAdvertisement(participant.Advertisement, policy, spec);
                    if (!seen.Add(peer.Region))
                    {
                        throw new EnclaveFailure("DuplicateParticipant", $"region {peer.Region} is listed twice");
                    }

                    long cap = spec.MemberFor(peer.Region).MaxSamples;
                    if (ad.SampleCount <= 0 || ad.SampleCount > cap)
                    {
                        throw new EnclaveFailure("InvalidParticipant", $"participant {peer.TokenId} claims a weight of {ad.SampleCount}; the specification allows 1 to {cap}");
                    }

                    totalSamples = checked(totalSamples + ad.SampleCount);
                    keys.Add(peer.SigningKey.CreateECDsa());
                    if (peer.TokenId == round.Attested.TokenId)
                    {
                        self = keys.Count;
                    }
                }

                if (self == 0)
                {
                    throw new EnclaveFailure("NotAParticipant", "this enclave is not among the round's participants");
                }

                if (totalSamples != begin.TotalSamples)
                {
                    throw new EnclaveFailure("InvalidParticipant", $"the participants hold {totalSamples} samples, the coordinator says {begin.TotalSamples}");
                }

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
            Attested attested = await AttestAsync(keys, "probe-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), null, cancellationToken).ConfigureAwait(false);
            response.Region = attested.Region;
            response.Measurement = attested.Measurement;
            response.TokenId = attested.TokenId;
            (byte[] key, _) = await ObtainDataKeyAsync(request.KeyName, attested.Token, keys, cancellationToken).ConfigureAwait(false);
            CryptographicOperations.ZeroMemory(key);
            response.Granted = true;
        }
        catch (Exception ex) when (ToFailure(ex) is { } failure)
        {
            response.Failure = failure;
        }

        return response;
    }

    // The token is checked against the verifier pinned in the image (issuer and keys); the host only relays it.
    private async Task<Attested> AttestAsync(RoundKeys keys, string roundId, string? specificationHex, CancellationToken cancellationToken)
    {
        OcallResult nonce = await _channel.CallAsync(new Ocall { GetNonce = new GetNonceCall() }, cancellationToken).ConfigureAwait(false);
        byte[] runtimeData = keys.CreateRuntimeData(nonce.Nonce, roundId, specificationHex);
        byte[] evidence = _evidence.GetEvidence(SHA512.HashData(runtimeData));
        OcallResult token = await _channel.CallAsync(
            new Ocall { Attest = new AttestCall { EvidenceFormat = _evidence.Format, Evidence = ByteString.CopyFrom(evidence), RuntimeData = ByteString.CopyFrom(runtimeData) } },
            cancellationToken).ConfigureAwait(false);

        JwtValidationParameters validation = _configuration.TokenValidation();
        JsonObject claims;
        try
        {
            claims = Jwt.Validate(token.Token, validation).Claims;
        }
        catch (JoseException ex)
        {
            throw new EnclaveFailure("TokenInvalid", $"the token does not validate against the verifier pinned in this image ({ex.Code}): {ex.Message}");
        }

        // The token must describe this enclave: its own measurement and exactly the runtime data it sent.
        string measurement = claims["x-ms-sgx-mrenclave"]?.GetValue<string>() ?? string.Empty;
        if (!string.Equals(measurement, Convert.ToHexStringLower(_measurement), StringComparison.Ordinal))
        {
            throw new EnclaveFailure("TokenMismatch", "the token does not carry this enclave's measurement");
        }

        if (claims["x-ms-runtime"] is not JsonObject runtime || !JsonNode.DeepEquals(runtime, JsonNode.Parse(runtimeData)))
        {
            throw new EnclaveFailure("TokenMismatch", "the token does not bind this enclave's runtime data");
        }

        string region = claims["x-enclave-region"]?.GetValue<string>() ?? throw new EnclaveFailure("TokenMismatch", "the token has no region");
        string tokenId = claims["jti"]?.GetValue<string>() ?? throw new EnclaveFailure("TokenMismatch", "the token has no id");
        return new Attested(token.Token, tokenId, region, measurement);
    }

    private async Task<(byte[] Key, ReleasedKey Released)> ObtainDataKeyAsync(string keyName, string token, RoundKeys keys, CancellationToken cancellationToken)
    {
        OcallResult result = await _channel.CallAsync(new Ocall { ReleaseKey = new ReleaseKeyCall { KeyName = keyName, AttestationToken = token } }, cancellationToken).ConfigureAwait(false);
        byte[] key;
        try
        {
            key = Jwe.Decrypt(result.ReleasedKey.WrappedKey, keys.Encryption);
        }
        catch (JoseException ex)
        {
            throw new EnclaveFailure("KeyUnwrapFailed", $"the released key does not decrypt with this enclave's key: {ex.Message}");
        }

        if (key.Length != 32)
        {
            CryptographicOperations.ZeroMemory(key);
            throw new EnclaveFailure("KeyUnwrapFailed", $"the released key is {key.Length} bytes, not 32");
        }

        return (key, result.ReleasedKey);
    }

    private (AttestedParticipant Peer, Advertisement Ad) VerifyAdvertisement(SignedMessage? signed, ParticipantPolicy policy, VerifiedSpecification spec)
    {
        if (signed is null || signed.Kind != "advertise")
        {
            throw new EnclaveFailure("InvalidParticipant", "a participant entry is not a signed advertisement");
        }

        Advertisement ad;
        try
        {
            ad = ProtoWire.Parse(Advertisement.Parser, signed.Payload.Span);
        }
        catch (InvalidDataException ex)
        {
            throw new EnclaveFailure("InvalidParticipant", $"a participant advertisement is malformed: {ex.Message}");
        }

        AttestedParticipant peer = AttestedParticipant.FromToken(ad.Token, _configuration.TokenValidation(), policy);
        if (!peer.VerifySignature(signed.Kind, signed.Payload.Span, signed.Signature.Span))
        {
            throw new EnclaveFailure("BadSignature", $"the advertisement of {peer.TokenId} is not signed by its attested key");
        }

        if (ad.RoundId != spec.RoundId || ad.Region != peer.Region)
        {
            throw new EnclaveFailure("InvalidParticipant", $"the advertisement of {peer.TokenId} is for another round or region");
        }

        if (!CryptographicOperations.FixedTimeEquals(ad.SpecificationSha256.Span, spec.Sha256))
        {
            throw new EnclaveFailure("SpecificationMismatch", $"the advertisement of {peer.TokenId} was made for another round specification");
        }

        CohortMember member = spec.MemberFor(peer.Region);
        if (ad.DatasetId != member.DatasetId || ad.KeyId != member.KeyId)
        {
            throw new EnclaveFailure("InvalidParticipant", $"the advertisement of {peer.TokenId} names another dataset or key than the specification");
        }

        return (peer, ad);
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

    private sealed record Attested(string Token, string TokenId, string Region, string Measurement);

    private sealed class RoundState : IDisposable
    {
        public RoundState(VerifiedSpecification specification, RoundKeys keys, Attested attested, float[] delta)
        {
            Specification = specification;
            Keys = keys;
            Attested = attested;
            Delta = delta;
        }

        public VerifiedSpecification Specification { get; }

        public RoundKeys Keys { get; }

        public Attested Attested { get; }

        public float[] Delta { get; }

        public long SampleCount { get; init; }

        public SecAggClient? SecAgg { get; private set; }

        public uint[] Input { get; private set; } = [];

        private ECDsa[] VerificationKeys { get; set; } = [];

        public void BeginSecAgg(SecAggClient client, uint[] input, List<ECDsa> verificationKeys)
        {
            SecAgg = client;
            Input = input;
            VerificationKeys = [.. verificationKeys];
        }

        /// <summary>Forgets the unmasked input once its masked form has been produced.</summary>
        public void ClearInput() => Array.Clear(Input);

        public void Dispose()
        {
            Keys.Dispose();
            SecAgg?.Dispose();
            foreach (ECDsa key in VerificationKeys)
            {
                key.Dispose();
            }

            Array.Clear(Input);
            Array.Clear(Delta);
        }
    }
}

internal sealed class EnclaveFailure : Exception
{
    public EnclaveFailure(string code, string message)
        : base(message)
    {
        Code = code;
    }

    public string Code { get; }
}
