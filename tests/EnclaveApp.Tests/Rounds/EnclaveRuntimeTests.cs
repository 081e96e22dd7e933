// The enclave's round logic in process, against a host played by the test: the enclave runtime on one end of a pair
// of pipes, and on the other a host that serves its ocalls with a test verifier (tokens it signs for exactly the
// runtime data the enclave sent), a data key wrapped to the enclave's key, and an encrypted dataset. This reaches
// what real processes cannot here: an image configured for hardware.
using System.IO.Pipes;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.EnclaveApp.Attestation;
using Enclave.EnclaveApp.Boundary;
using Enclave.EnclaveApp.Data;
using Enclave.Training;
using Enclave.Protocol;
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;
using Google.Protobuf;

namespace Enclave.EnclaveApp.Tests.Rounds;

public sealed class EnclaveRuntimeTests
{
    private const string Issuer = "https://verifier.test";
    private const int Hidden = 4;

    private static readonly Lazy<ECDsa> s_planOwnerKey = new(() => ECDsa.Create(ECCurve.NamedCurves.nistP256));
    private static readonly Lazy<Jwk> s_planOwner = new(() => Jwk.FromEcPublic(s_planOwnerKey.Value.ExportParameters(false)));
    private static readonly Lazy<Privacy.SignedPlan> s_plan = new(() => Privacy.SignedPlan.Sign(Privacy.TrainingPlan.Parse(Encoding.UTF8.GetBytes($$$"""
        {"type":"enclave-training-plan/1","id":"runtime-tests","purpose":"tests","model":{"kind":"mlp","hidden":{{{Hidden}}}},
         "optimizer":{"learningRate":0.05,"momentum":0.9},"localEpochs":1,"batchSize":16,"rounds":10,
         "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}},
         "updateClipNorm":100,"privacy":{"kind":"none"},"seed":1}
        """)), s_planOwnerKey.Value));
    private static readonly string s_measurement = Convert.ToHexStringLower(SHA256.HashData("test image"u8));

    [Fact]
    public async Task AHardwareImageRefusesASimulatedPeer()
    {
        await using var world = new TestWorld(EnclaveMode.Hardware, peersSimulated: true);
        RoundSpecification spec = world.Specification();
        PrepareResponse prepared = await world.PrepareAsync(spec);
        Assert.True(prepared.ResultCase == PrepareResponse.ResultOneofCase.Advertisement, prepared.Failure?.ToString());

        SecAggStepResponse begin = await world.BeginAsync(spec, prepared.Advertisement);
        Assert.Equal("SimulatedNotAllowed", begin.Failure?.Code);
        Assert.True(begin.Message.IsEmpty);
    }

    [Fact]
    public async Task ASimulatedImageAcceptsSimulatedPeersOfTheSameSpecification()
    {
        await using var world = new TestWorld(EnclaveMode.Simulated, peersSimulated: true);
        RoundSpecification spec = world.Specification();
        PrepareResponse prepared = await world.PrepareAsync(spec);
        Assert.True(prepared.ResultCase == PrepareResponse.ResultOneofCase.Advertisement, prepared.Failure?.ToString());

        SecAggStepResponse begin = await world.BeginAsync(spec, prepared.Advertisement);
        Assert.True(begin.ResultCase == SecAggStepResponse.ResultOneofCase.Message, begin.Failure?.ToString());
    }

    [Fact]
    public async Task ATokenSignedByAKeyTheImageDoesNotPinIsRefusedBeforeAnyKeyIsRequested()
    {
        await using var world = new TestWorld(EnclaveMode.Hardware, peersSimulated: false, signTokensWithUnpinnedKey: true);
        PrepareResponse prepared = await world.PrepareAsync(world.Specification());
        Assert.Equal("TokenInvalid", prepared.Failure?.Code);
        Assert.Equal(0, world.ReleasesServed);
    }

    [Fact]
    public async Task TheEnclaveAsksOnlyForTheSpecifiedKeyAndDatasetAndCapsItsWeight()
    {
        await using var world = new TestWorld(EnclaveMode.Hardware, peersSimulated: false);
        RoundSpecification spec = world.Specification(maxSamples: 10);
        PrepareResponse prepared = await world.PrepareAsync(spec);
        Assert.True(prepared.ResultCase == PrepareResponse.ResultOneofCase.Advertisement, prepared.Failure?.ToString());
        Advertisement ad = Advertisement.Parser.ParseFrom(prepared.Advertisement.Payload);
        Assert.Equal(10, ad.SampleCount);
        Assert.Equal(TestWorld.KeyId, Assert.Single(world.KeysRequested));
        Assert.Equal([TestWorld.DatasetId], world.DatasetsRead.Distinct());
        Assert.Equal(SHA256.HashData(spec.ToByteArray()), ad.SpecificationSha256.ToByteArray());
    }

    [Fact]
    public async Task AHostCannotMakeAHardwareImageDiscloseItsInputs()
    {
        await using var world = new TestWorld(EnclaveMode.Hardware, peersSimulated: false, discloseInputs: true);
        await Assert.ThrowsAsync<BoundaryViolationException>(() => world.Completion);
    }

    [Fact]
    public async Task AForgedDatasetHeaderClaimingGigabytesIsRefusedBeforeAnyLargeAllocation()
    {
        await using var world = new TestWorld(EnclaveMode.Hardware, peersSimulated: false, forgeHugeHeader: true);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        PrepareResponse prepared = await world.PrepareAsync(world.Specification());
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal("DatasetChunkAuthenticationFailed", prepared.Failure?.Code);
        Assert.True(allocated < 256L * 1024 * 1024, $"{allocated} bytes allocated for a header that did not authenticate");
    }

    /// <summary>The enclave runtime and the test's host, verifier, broker and peers.</summary>
    private sealed class TestWorld : IAsyncDisposable
    {
        public const string DatasetId = "data-eu-west";
        public const string KeyId = "owner/eu-west-data";
        private static readonly string[] s_regions = ["eu-west", "us-east", "ap-south"];

        private readonly ECDsa _verifier = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        private readonly ECDsa _unpinned = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        private readonly ECDsa _coordinator = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        private readonly string _verifierKid;
        private readonly string _coordinatorKid;
        private readonly bool _peersSimulated;
        private readonly bool _unpinnedTokens;
        private readonly byte[] _dataKey = RandomNumberGenerator.GetBytes(32);
        private readonly byte[] _dataset;
        private readonly AnonymousPipeServerStream _toEnclave = new(PipeDirection.Out);
        private readonly AnonymousPipeServerStream _fromEnclave = new(PipeDirection.In);
        private readonly AnonymousPipeClientStream _enclaveIn;
        private readonly AnonymousPipeClientStream _enclaveOut;
        private int _nonces;

        public TestWorld(EnclaveMode mode, bool peersSimulated, bool signTokensWithUnpinnedKey = false, bool discloseInputs = false, bool forgeHugeHeader = false)
        {
            _peersSimulated = peersSimulated;
            _unpinnedTokens = signTokensWithUnpinnedKey;
            _verifierKid = Jwk.FromEcPublic(_verifier.ExportParameters(false)).ComputeThumbprint();
            _coordinatorKid = Jwk.FromEcPublic(_coordinator.ExportParameters(false)).ComputeThumbprint();
            var configuration = new EnclaveConfiguration(
                mode,
                Issuer,
                new JwkSet([Jwk.FromEcPublic(_verifier.ExportParameters(false), kid: _verifierKid, use: "sig")]),
                new JwkSet([Jwk.FromEcPublic(_coordinator.ExportParameters(false), kid: _coordinatorKid, use: "sig")]));
            _dataset = Dataset(forgeHugeHeader);
            _enclaveIn = new AnonymousPipeClientStream(PipeDirection.In, _toEnclave.ClientSafePipeHandle);
            _enclaveOut = new AnonymousPipeClientStream(PipeDirection.Out, _fromEnclave.ClientSafePipeHandle);
            var runtime = new EnclaveRuntime(
                new BoundaryChannel(_enclaveIn, _enclaveOut), configuration, new FakeEvidence(mode == EnclaveMode.Simulated),
                Convert.FromHexString(s_measurement), "platform");
            Completion = Task.Run(() => runtime.RunAsync(CancellationToken.None));
            Configured = SendAsync(new HostToEnclave { Configure = new Configure { RegionHint = "eu-west", DiscloseInputsForTests = discloseInputs } });
        }

        public Task Completion { get; }

        public Task<EnclaveToHost> Configured { get; }

        public int ReleasesServed { get; private set; }

        public List<string> KeysRequested { get; } = [];

        public List<string> DatasetsRead { get; } = [];

        public RoundSpecification Specification(long maxSamples = 100_000)
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            var spec = new RoundSpecification
            {
                Type = RoundBinding.SpecificationType,
                RoundId = "round-1",
                Round = 1,
                GlobalModelSha256 = ByteString.CopyFrom(SHA256.HashData(Model)),
                Plan = s_plan.Value.Compact,
                PlanOwnerKey = s_planOwner.Value.ToJson(),
                Secagg = new SecAggSpecification { Quantization = new QuantizationConfig { Clip = 8, ScaleBits = 20 }, RingBits = 32, MinimumCohort = 3 },
                IssuedAt = now.ToUnixTimeSeconds(),
                ExpiresAt = now.AddMinutes(10).ToUnixTimeSeconds(),
            };
            foreach (string region in s_regions)
            {
                spec.Cohort.Add(new CohortMember { Region = region, DatasetId = region == "eu-west" ? DatasetId : "data-" + region, KeyId = region == "eu-west" ? KeyId : "owner/" + region, MaxSamples = maxSamples });
            }

            return spec;
        }

        public async Task<PrepareResponse> PrepareAsync(RoundSpecification spec)
        {
            await Configured;
            byte[] payload = spec.ToByteArray();
            EnclaveToHost reply = await SendAsync(new HostToEnclave
            {
                Prepare = new PrepareRequest
                {
                    Specification = new CoordinatorSigned { Payload = ByteString.CopyFrom(payload), Signature = ByteString.CopyFrom(MessageSignature.Sign(_coordinator, RoundBinding.SpecificationKind, payload)), KeyId = _coordinatorKid },
                    GlobalModel = ByteString.CopyFrom(Model),
                },
            });
            return reply.Prepared;
        }

        /// <summary>Begins secure aggregation with this enclave and two peers the test verifier attests.</summary>
        public async Task<SecAggStepResponse> BeginAsync(RoundSpecification spec, SignedMessage own)
        {
            byte[] hash = SHA256.HashData(spec.ToByteArray());
            var body = new SecAggBegin { SpecificationSha256 = ByteString.CopyFrom(hash), GraphSeed = ByteString.CopyFrom(new byte[32]) };
            var ads = new List<(string Region, SignedMessage Ad)> { ("eu-west", own) };
            foreach (string region in s_regions[1..])
            {
                ads.Add((region, Peer(spec, hash, region)));
            }

            body.Participants.AddRange(ads.OrderBy(a => a.Region, StringComparer.Ordinal).Select(a => new Participant { Advertisement = a.Ad }));
            body.TotalSamples = ads.Sum(a => Advertisement.Parser.ParseFrom(a.Ad.Payload).SampleCount);
            byte[] payload = body.ToByteArray();
            EnclaveToHost reply = await SendAsync(new HostToEnclave
            {
                SecaggBegin = new SecAggBeginRequest
                {
                    RoundId = spec.RoundId,
                    Begin = new CoordinatorSigned { Payload = ByteString.CopyFrom(payload), Signature = ByteString.CopyFrom(MessageSignature.Sign(_coordinator, RoundBinding.BeginKind, payload)), KeyId = _coordinatorKid },
                },
            });
            return reply.SecaggStepped;
        }

        private static byte[] Model => MemoryMarshal.AsBytes(TestSupport.InitialModel(Hidden, 1).AsSpan()).ToArray();

        private SignedMessage Peer(RoundSpecification spec, byte[] hash, string region)
        {
            using var signing = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var encryption = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
            var runtime = new JsonObject
            {
                ["keys"] = new JsonArray(
                    Jwk.FromEcPublic(encryption.ExportParameters(false), kid: "enc", use: "enc").ToJsonObject(),
                    Jwk.FromEcPublic(signing.ExportParameters(false), kid: "sig", use: "sig").ToJsonObject()),
                ["nonce"] = "peer-nonce",
                ["round"] = spec.RoundId,
                ["spec"] = Convert.ToHexStringLower(hash),
            };
            var ad = new Advertisement
            {
                RoundId = spec.RoundId,
                Region = region,
                Token = Token(runtime, region, _peersSimulated),
                SampleCount = 50,
                SpecificationSha256 = ByteString.CopyFrom(hash),
                DatasetId = "data-" + region,
                KeyId = "owner/" + region,
            };
            byte[] payload = ad.ToByteArray();
            return new SignedMessage { Kind = "advertise", Payload = ByteString.CopyFrom(payload), Signature = ByteString.CopyFrom(MessageSignature.Sign(signing, "advertise", payload)) };
        }

        private string Token(JsonObject runtime, string region, bool simulated)
        {
            long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var claims = new JsonObject
            {
                ["iss"] = Issuer,
                ["jti"] = Guid.NewGuid().ToString("N"),
                ["iat"] = now,
                ["nbf"] = now,
                ["exp"] = now + 300,
                ["x-ms-attestation-type"] = simulated ? "simulated" : "sevsnpvm",
                ["x-enclave-simulated"] = simulated,
                ["x-ms-sgx-mrenclave"] = s_measurement,
                ["x-ms-sgx-is-debuggable"] = false,
                ["x-enclave-region"] = region,
                ["x-ms-runtime"] = runtime,
            };
            ECDsa key = _unpinnedTokens ? _unpinned : _verifier;
            string kid = Jwk.FromEcPublic(key.ExportParameters(false)).ComputeThumbprint();
            return Jws.Sign(Encoding.UTF8.GetBytes(claims.ToJsonString()), key, kid, "JWT");
        }

        private byte[] Dataset(bool forgeHugeHeader)
        {
            ExampleSet examples = TestSupport.LoadFashionMnist("train", 64);
            byte[] plaintext = examples.ToBytes();
            using var output = new MemoryStream();
            EncryptedDataset.Encrypt(new MemoryStream(plaintext), plaintext.Length, output, _dataKey, DatasetId, "eu-west", chunkSize: 4096);
            byte[] file = output.ToArray();
            if (forgeHugeHeader)
            {
                // docs/formats.md section 5: plaintext length P at offset 16 and chunk count N at 24. Claim ~1.9 GiB
                // in as many 4 KiB chunks; no chunk authenticates under the edited header.
                long forged = 1_900L * 1024 * 1024;
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(16), forged);
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(24), forged / 4096);
            }

            return file;
        }

        private async Task<EnclaveToHost> SendAsync(HostToEnclave request)
        {
            await BoundaryFrames.WriteAsync(_toEnclave, request, CancellationToken.None);
            while (true)
            {
                Task<EnclaveToHost?> read = BoundaryFrames.ReadAsync(_fromEnclave, EnclaveToHost.Parser, CancellationToken.None);
                if (await Task.WhenAny(read, Completion) == Completion)
                {
                    await Completion;
                    throw new InvalidOperationException("the enclave stopped");
                }

                EnclaveToHost message = await read ?? throw new InvalidOperationException("the enclave closed the boundary");
                switch (message.BodyCase)
                {
                    case EnclaveToHost.BodyOneofCase.Log:
                        continue;
                    case EnclaveToHost.BodyOneofCase.Ocall:
                        OcallResult result = Serve(message.Ocall);
                        result.CallId = message.Ocall.CallId;
                        await BoundaryFrames.WriteAsync(_toEnclave, new HostToEnclave { OcallResult = result }, CancellationToken.None);
                        continue;
                    default:
                        return message;
                }
            }
        }

        private OcallResult Serve(Ocall call)
        {
            switch (call.CallCase)
            {
                case Ocall.CallOneofCase.GetNonce:
                    return new OcallResult { Nonce = $"nonce-{++_nonces}" };
                case Ocall.CallOneofCase.Attest:
                    var runtime = (JsonObject)JsonNode.Parse(call.Attest.RuntimeData.Span)!;
                    return new OcallResult { Token = Token(runtime, "eu-west", call.Attest.EvidenceFormat == SimulatedPlatform.EvidenceFormat) };
                case Ocall.CallOneofCase.ReleaseKey:
                    ReleasesServed++;
                    KeysRequested.Add(call.ReleaseKey.KeyName);
                    string[] parts = call.ReleaseKey.AttestationToken.Split('.');
                    var claims = (JsonObject)JsonNode.Parse(Base64Url.Decode(parts[1]))!;
                    Jwk enc = Jwk.Parse(claims["x-ms-runtime"]!["keys"]![0]!.ToJsonString());
                    return new OcallResult { ReleasedKey = new ReleasedKey { WrappedKey = Jwe.Encrypt(_dataKey, enc), KeyVersion = "1", ReceiptId = "receipt" } };
                case Ocall.CallOneofCase.ReadData:
                    DatasetsRead.Add(call.ReadData.DatasetId);
                    int offset = (int)Math.Min(call.ReadData.Offset, _dataset.Length);
                    int length = Math.Min(call.ReadData.Length, _dataset.Length - offset);
                    return new OcallResult { Data = ByteString.CopyFrom(_dataset, offset, length) };
                default:
                    return new OcallResult { Failure = new Failure { Code = "UnknownOcall", Message = call.CallCase.ToString() } };
            }
        }

        public async ValueTask DisposeAsync()
        {
            _toEnclave.Dispose();
            try
            {
                await Completion.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception ex) when (ex is BoundaryViolationException or IOException or TimeoutException or InvalidOperationException)
            {
            }

            _fromEnclave.Dispose();
            _enclaveIn.Dispose();
            _enclaveOut.Dispose();
            _verifier.Dispose();
            _unpinned.Dispose();
            _coordinator.Dispose();
        }
    }

    private sealed class FakeEvidence : IEvidenceProvider
    {
        private readonly bool _simulated;

        public FakeEvidence(bool simulated) => _simulated = simulated;

        public string Format => _simulated ? SimulatedPlatform.EvidenceFormat : "sev-snp";

        public bool IsAvailable => true;

        public byte[] GetEvidence(ReadOnlySpan<byte> reportData64) => reportData64.ToArray();
    }
}
