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
    private readonly BoundaryChannel _channel;
    private readonly IEvidenceProvider _evidence;
    private readonly byte[] _measurement;
    private readonly string _platformId;
    private Configure? _configuration;
    private RoundState? _round;

    public EnclaveRuntime(BoundaryChannel channel, SimulatedPlatform platform)
        : this(channel, platform, platform.Measurement, platform.PlatformId)
    {
    }

    /// <param name="evidence">Where attestation evidence comes from (hardware or the simulated platform).</param>
    /// <param name="measurement">The measurement of the code that runs, reported to the host.</param>
    /// <param name="platformId">The platform identity reported to the host (empty when the verifier derives it).</param>
    public EnclaveRuntime(BoundaryChannel channel, IEvidenceProvider evidence, byte[] measurement, string platformId)
    {
        _channel = channel;
        _evidence = evidence;
        _measurement = measurement;
        _platformId = platformId;
    }

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
        _configuration = configure;
        return new EnclaveToHost
        {
            Configured = new Configured
            {
                Measurement = Convert.ToHexStringLower(_measurement),
                PlatformId = _platformId,
                Simulated = _evidence.Format == SimulatedPlatform.EvidenceFormat,
            },
        };
    }

    private Configure Configuration => _configuration ?? throw new EnclaveFailure("NotConfigured", "the host has not configured the enclave");

    private async Task<PrepareResponse> PrepareAsync(PrepareRequest request, CancellationToken cancellationToken)
    {
        _round?.Dispose();
        _round = null;
        RoundKeys? keys = null;
        try
        {
            keys = RoundKeys.Create();
            Attested attested = await AttestAsync(keys, request.RoundId, cancellationToken).ConfigureAwait(false);
            await _channel.LogAsync("info", $"attested as {attested.TokenId} in region {attested.Region} (SIMULATED evidence)", cancellationToken).ConfigureAwait(false);
            (byte[] dataKey, ReleasedKey released) = await ObtainDataKeyAsync(Configuration.KeyName, attested.Token, keys, cancellationToken).ConfigureAwait(false);
            ExampleSet examples;
            try
            {
                examples = ExampleSet.Parse(await ReadDatasetAsync(dataKey, attested.Region, cancellationToken).ConfigureAwait(false));
            }
            finally
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }

            float[] global = MemoryMarshal.Cast<byte, float>(request.GlobalModel.Span).ToArray();
            TrainingConfig t = request.Training;
            var options = new TrainingOptions(t.Hidden, t.Epochs, t.BatchSize, t.LearningRate, t.Momentum, t.Seed + request.Round);
            if (LocalTrainer.ParameterCount(options.Hidden) != global.Length)
            {
                throw new EnclaveFailure("ModelShapeMismatch", $"global model has {global.Length} parameters; hidden size {options.Hidden} needs {LocalTrainer.ParameterCount(options.Hidden)}");
            }

            TrainingResult result = LocalTrainer.Train(global, examples, options);
            await _channel.LogAsync("info", $"trained on {result.SampleCount} examples: loss {result.FinalLoss:F4}, train accuracy {result.TrainAccuracy:F4}", cancellationToken).ConfigureAwait(false);

            var advertisement = new Advertisement
            {
                RoundId = request.RoundId,
                Region = attested.Region,
                Token = attested.Token,
                SampleCount = result.SampleCount,
                KeyReceiptId = released.ReceiptId,
                KeyVersion = released.KeyVersion,
                TrainLoss = result.FinalLoss,
                TrainAccuracy = result.TrainAccuracy,
            };
            _round = new RoundState(request.RoundId, keys, attested, result.Delta, request.AllowedRegions.ToArray()) { SampleCount = result.SampleCount };
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

    // Fixes the cohort of the staged protocol: every listed participant must carry a valid token (allowed
    // measurement and region) and an advertisement signed by that token's key; client i is participants[i - 1].
    private async Task<SecAggStepResponse> SecAggBeginAsync(SecAggBeginRequest request, CancellationToken cancellationToken)
    {
        try
        {
            RoundState round = RequireRound(request.RoundId);
            if (round.SecAgg is not null)
            {
                throw new EnclaveFailure("InvalidState", "secure aggregation has already begun for this round");
            }

            JwtValidationParameters validation = round.Validation;
            var policy = new ParticipantPolicy([round.Attested.Measurement], round.AllowedRegions, AllowSimulated: true);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var keys = new List<ECDsa>(request.Participants.Count);
            long totalSamples = 0;
            int self = 0;
            try
            {
                foreach (Participant participant in request.Participants)
                {
                    (AttestedParticipant peer, Advertisement ad) = VerifyAdvertisement(participant.Advertisement, validation, policy, request.RoundId);
                    if (!seen.Add(peer.TokenId))
                    {
                        throw new EnclaveFailure("DuplicateParticipant", $"participant {peer.TokenId} is listed twice");
                    }

                    if (ad.SampleCount <= 0)
                    {
                        throw new EnclaveFailure("InvalidParticipant", $"participant {peer.TokenId} reports {ad.SampleCount} samples");
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

                if (totalSamples != request.TotalSamples)
                {
                    throw new EnclaveFailure("InvalidParticipant", $"the participants hold {totalSamples} samples, the coordinator says {request.TotalSamples}");
                }

                SecAggParameters parameters;
                SecAggRound secRound;
                RingQuantizer quantizer;
                try
                {
                    // Explicit() enforces a cohort of at least 3 and a threshold above half the shares.
                    parameters = SecAggParameters.Explicit(keys.Count, (int)request.Degree, (int)request.Threshold);
                    secRound = new SecAggRound(request.RoundId, parameters, request.GraphSeed.Span, round.Delta.Length, (int)request.RingBits, keys);
                    quantizer = new RingQuantizer(request.Quantization.Clip, (int)request.Quantization.ScaleBits, (int)request.RingBits, keys.Count);
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

                if (Configuration.DiscloseInputsForTests && _evidence.Format == SimulatedPlatform.EvidenceFormat)
                {
                    // Test mode only, refused on real hardware (Configure): lets a test check the unmasked sum exactly.
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
            SecAggMessage message = SecAggCodec.Decode(request.Message.Span);
            if (message.RoundId != request.RoundId)
            {
                throw new EnclaveFailure("InvalidSecAggMessage", $"a message of round {message.RoundId} relayed for {request.RoundId}");
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
            Attested attested = await AttestAsync(keys, "probe-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)), cancellationToken).ConfigureAwait(false);
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

    private async Task<Attested> AttestAsync(RoundKeys keys, string roundId, CancellationToken cancellationToken)
    {
        OcallResult nonce = await _channel.CallAsync(new Ocall { GetNonce = new GetNonceCall() }, cancellationToken).ConfigureAwait(false);
        byte[] runtimeData = keys.CreateRuntimeData(nonce.Nonce, roundId);
        byte[] evidence = _evidence.GetEvidence(SHA512.HashData(runtimeData));
        OcallResult token = await _channel.CallAsync(
            new Ocall { Attest = new AttestCall { EvidenceFormat = _evidence.Format, Evidence = ByteString.CopyFrom(evidence), RuntimeData = ByteString.CopyFrom(runtimeData) } },
            cancellationToken).ConfigureAwait(false);
        OcallResult jwks = await _channel.CallAsync(new Ocall { GetVerifierKeys = new GetVerifierKeysCall() }, cancellationToken).ConfigureAwait(false);

        JwkSet keySet;
        try
        {
            keySet = JwkSet.Parse(jwks.Jwks);
        }
        catch (JoseException ex)
        {
            throw new EnclaveFailure("VerifierKeysInvalid", $"the verifier's key set is malformed: {ex.Message}");
        }

        var validation = new JwtValidationParameters
        {
            ValidIssuers = [Configuration.VerifierIssuer],
            KeyResolver = kid => kid is null ? null : keySet.Find(kid),
        };
        JsonObject claims;
        try
        {
            claims = Jwt.Validate(token.Token, validation).Claims;
        }
        catch (JoseException ex)
        {
            throw new EnclaveFailure("TokenInvalid", $"the verifier's token does not validate ({ex.Code}): {ex.Message}");
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
        return new Attested(token.Token, tokenId, region, measurement, validation);
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

    private async Task<byte[]> ReadDatasetAsync(byte[] dataKey, string region, CancellationToken cancellationToken)
    {
        string datasetId = Configuration.DatasetId;
        byte[] prefix = await ReadAsync(datasetId, 0, EncryptedDataset.MaxHeaderLength, cancellationToken).ConfigureAwait(false);
        DatasetHeader header = EncryptedDataset.ParseHeader(prefix);
        if (!string.Equals(header.DatasetId, datasetId, StringComparison.Ordinal))
        {
            throw new EncryptedDatasetException(DatasetError.WrongDataset, $"the host served dataset {header.DatasetId}, not {datasetId}");
        }

        if (!string.Equals(header.Region, region, StringComparison.Ordinal))
        {
            throw new EncryptedDatasetException(DatasetError.WrongRegion, $"dataset {datasetId} belongs to region {header.Region}; this enclave is attested in {region}");
        }

        if (header.PlaintextLength > int.MaxValue - 1024)
        {
            throw new EncryptedDatasetException(DatasetError.Malformed, $"dataset {datasetId} is too large for one enclave ({header.PlaintextLength} bytes)");
        }

        byte[] headerBytes = prefix.AsSpan(0, header.HeaderLength).ToArray();
        byte[] plaintext = new byte[header.PlaintextLength];
        try
        {
            long written = 0;
            for (long i = 0; i < header.ChunkCount; i++)
            {
                int length = header.RecordLength(i);
                byte[] record = await ReadAsync(datasetId, header.RecordOffset(i), length, cancellationToken).ConfigureAwait(false);
                if (record.Length != length)
                {
                    throw new EncryptedDatasetException(DatasetError.Truncated, $"dataset {datasetId} ends inside chunk {i}");
                }

                int chunk = header.PlaintextChunkLength(i);
                EncryptedDataset.DecryptChunk(header, headerBytes, dataKey, i, record, plaintext.AsSpan((int)written, chunk));
                written += chunk;
            }

            byte[] beyond = await ReadAsync(datasetId, header.RecordOffset(header.ChunkCount - 1) + header.RecordLength(header.ChunkCount - 1), 1, cancellationToken).ConfigureAwait(false);
            if (beyond.Length != 0)
            {
                throw new EncryptedDatasetException(DatasetError.TrailingData, $"dataset {datasetId} has data after its last chunk");
            }

            return plaintext;
        }
        catch
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw;
        }
    }

    private async Task<byte[]> ReadAsync(string datasetId, long offset, int length, CancellationToken cancellationToken)
    {
        OcallResult result = await _channel.CallAsync(new Ocall { ReadData = new ReadDataCall { DatasetId = datasetId, Offset = offset, Length = length } }, cancellationToken).ConfigureAwait(false);
        if (result.Data.Length > length)
        {
            throw new BoundaryViolationException($"asked for {length} bytes of {datasetId}, the host returned {result.Data.Length}");
        }

        return result.Data.ToByteArray();
    }

    private (AttestedParticipant Peer, Advertisement Ad) VerifyAdvertisement(SignedMessage? signed, JwtValidationParameters validation, ParticipantPolicy policy, string roundId)
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

        AttestedParticipant peer = AttestedParticipant.FromToken(ad.Token, validation, policy);
        if (!peer.VerifySignature(signed.Kind, signed.Payload.Span, signed.Signature.Span))
        {
            throw new EnclaveFailure("BadSignature", $"the advertisement of {peer.TokenId} is not signed by its attested key");
        }

        if (ad.RoundId != roundId || ad.Region != peer.Region)
        {
            throw new EnclaveFailure("InvalidParticipant", $"the advertisement of {peer.TokenId} is for another round or region");
        }

        return (peer, ad);
    }

    private RoundState RequireRound(string roundId)
    {
        if (_round is null || _round.RoundId != roundId)
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

    private sealed record Attested(string Token, string TokenId, string Region, string Measurement, JwtValidationParameters Validation);

    private sealed class RoundState : IDisposable
    {
        public RoundState(string roundId, RoundKeys keys, Attested attested, float[] delta, string[] allowedRegions)
        {
            RoundId = roundId;
            Keys = keys;
            Attested = attested;
            Delta = delta;
            AllowedRegions = allowedRegions;
        }

        public string RoundId { get; }

        public RoundKeys Keys { get; }

        public Attested Attested { get; }

        public float[] Delta { get; }

        public long SampleCount { get; init; }

        public string[] AllowedRegions { get; }

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

        public JwtValidationParameters Validation => Attested.Validation;

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
