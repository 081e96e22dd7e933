// The trust-chain attacks, done as the attacker did them against real processes: a verifier, a key broker and
// three regional hosts, each launching the configured enclave image as a child process. The test plays the rogue
// caller, the hostile coordinator and the hostile host; every attempt must fail with its typed code, with nothing
// released to the attacker and nothing disclosed.
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Cli.Demo;
using Enclave.Crypto;
using Enclave.Hosting;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;
using Enclave.Testing;
using Enclave.Training;
using Google.Protobuf;
using Grpc.Net.Client;

namespace Enclave.Integration.Tests;

public sealed class TrustChainFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("enclave-attacks");

    internal LocalFederation Federation { get; private set; } = null!;

    public ECDsa CoordinatorKey { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public string CoordinatorKeyId { get; private set; } = string.Empty;

    public Dictionary<string, RegionHost.RegionHostClient> Hosts { get; } = new(StringComparer.Ordinal);

    private readonly List<GrpcChannel> _channels = [];

    public async Task InitializeAsync()
    {
        Federation = await LocalFederation.StartAsync(
            new FederationOptions(["eu-west", "us-east", "ap-south"], _directory.Combine("work"), 300, [], EnclaveBuild: RepositoryPaths.EnclaveAppDirectory, CliAssembly: RepositoryPaths.CliAssembly, PlanJson: TrustChainAttackTests.PlanJson),
            _ => { }, _ => { }, CancellationToken.None);
        CoordinatorKey.ImportFromPem(File.ReadAllText(Path.Combine(Federation.AggregatorDirectory, "coordinator.key")));
        CoordinatorKeyId = Jwk.FromEcPublic(CoordinatorKey.ExportParameters(false)).ComputeThumbprint();
        foreach ((string region, Uri url) in Federation.HostUrls)
        {
            GrpcChannel channel = ServiceHost.CreateChannel(url, Federation.OperatorTls);
            _channels.Add(channel);
            Hosts[region] = new RegionHost.RegionHostClient(channel);
        }
    }

    public async Task DisposeAsync()
    {
        foreach (GrpcChannel channel in _channels)
        {
            channel.Dispose();
        }

        await Federation.DisposeAsync();
        CoordinatorKey.Dispose();
        _directory.Dispose();
    }
}

public sealed class TrustChainAttackTests : IClassFixture<TrustChainFixture>
{
    private const int Hidden = 16;

    /// <summary>The federation's plan: a small MLP, so that each attack's training takes little time.</summary>
    public const string PlanJson = """
        {"type":"enclave-training-plan/1","id":"attack-tests","purpose":"fashion-classification",
         "model":{"kind":"mlp","hidden":16},"optimizer":{"learningRate":0.05,"momentum":0.9},
         "localEpochs":1,"batchSize":32,"rounds":1000,
         "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}},
         "updateClipNorm":100,"privacy":{"kind":"none"},"seed":7}
        """;
    private readonly TrustChainFixture _f;

    public TrustChainAttackTests(TrustChainFixture fixture) => _f = fixture;

    private static float[] Model { get; } = ModelSpec.Mlp(Hidden).InitialModel(7);

    // Attack 1: anyone who could reach the hosts played coordinator and set epochs per region.
    [Fact]
    public async Task ARogueCallerCannotStartOrSteerARound()
    {
        using var rogue = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        RoundSpecification spec = Specification(NewRoundId());

        // Signed with a key of its own, even one that claims the coordinator's kid.
        PrepareResponse own = await Prepare("eu-west", Sign(rogue, RoundBinding.SpecificationKind, spec.ToByteArray(), Jwk.FromEcPublic(rogue.ExportParameters(false)).ComputeThumbprint()));
        Assert.Equal("CoordinatorSignatureInvalid", own.Failure?.Code);
        PrepareResponse claimed = await Prepare("eu-west", Sign(rogue, RoundBinding.SpecificationKind, spec.ToByteArray(), _f.CoordinatorKeyId));
        Assert.Equal("CoordinatorSignatureInvalid", claimed.Failure?.Code);

        // The honest specification with its training plan swapped after signing (a plan of the attacker's own).
        CoordinatorSigned honest = Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, spec.ToByteArray(), _f.CoordinatorKeyId);
        RoundSpecification steered = spec.Clone();
        Privacy.TrainingPlan ownPlan = Privacy.TrainingPlan.Parse(System.Text.Encoding.UTF8.GetBytes(PlanJson.Replace("\"localEpochs\":1", "\"localEpochs\":100")));
        steered.Plan = Privacy.SignedPlan.Sign(ownPlan, rogue).Compact;
        steered.PlanOwnerKey = Jwk.FromEcPublic(rogue.ExportParameters(false)).ToJson();
        PrepareResponse edited = await Prepare("us-east", new CoordinatorSigned { Payload = steered.ToByteString(), Signature = honest.Signature, KeyId = honest.KeyId });
        Assert.Equal("CoordinatorSignatureInvalid", edited.Failure?.Code);

        // Even the coordinator's own key cannot make a region train by a plan the model owner did not sign: a plan
        // re-signed by another key under the owner's key id, or the owner's plan with its content changed.
        RoundSpecification forged = spec.Clone();
        forged.Plan = Privacy.SignedPlan.Sign(ownPlan, rogue).Compact;
        PrepareResponse forgedPlan = await Prepare("us-east", Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, forged.ToByteArray(), _f.CoordinatorKeyId));
        Assert.Equal("TrainingPlanInvalid", forgedPlan.Failure?.Code);

        // A plan the model owner did sign, but not the one the data owners pinned, trains nothing: its token
        // binds that plan, and every key's policy here allows only the federation's plan.
        using var owner = ECDsa.Create();
        owner.ImportFromPem(File.ReadAllText(Path.Combine(_f.Federation.ModelOwnerDirectory, "owner.key")));
        RoundSpecification unpinned = spec.Clone();
        unpinned.Plan = Privacy.SignedPlan.Sign(ownPlan, owner).Compact;
        PrepareResponse denied = await Prepare("us-east", Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, unpinned.ToByteArray(), _f.CoordinatorKeyId));
        Assert.Equal("ReleaseDenied", denied.Failure?.Code);

        // Secure-aggregation calls without a prepared round, or unsigned, get nothing.
        SecAggStepResponse begin = await _f.Hosts["ap-south"].SecAggBeginAsync(new SecAggBeginRequest { RoundId = spec.RoundId, Begin = Sign(rogue, RoundBinding.BeginKind, [1], "x") });
        Assert.Equal("UnknownRound", begin.Failure?.Code);
        Assert.True(begin.Message.IsEmpty);
    }

    // Attack 1, second half: a coordinator that gives peers different specifications gets no aggregate.
    [Fact]
    public async Task HonestPeersGivenDifferentSpecificationsRefuseEachOther()
    {
        string roundId = NewRoundId();
        RoundSpecification a = Specification(roundId);
        RoundSpecification b = Specification(roundId, maxSamples: 99_999);
        byte[] aHash = SHA256.HashData(a.ToByteArray());
        byte[] bHash = SHA256.HashData(b.ToByteArray());
        var ads = new Dictionary<string, SignedMessage>(StringComparer.Ordinal);
        foreach ((string region, RoundSpecification spec) in new[] { ("eu-west", a), ("us-east", b), ("ap-south", b) })
        {
            PrepareResponse prepared = await Prepare(region, Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, spec.ToByteArray(), _f.CoordinatorKeyId));
            Assert.True(prepared.ResultCase == PrepareResponse.ResultOneofCase.Advertisement, prepared.Failure?.ToString());
            ads[region] = prepared.Advertisement;
        }

        long total = ads.Values.Sum(ad => Advertisement.Parser.ParseFrom(ad.Payload).SampleCount);
        SecAggStepResponse forA = await Begin("eu-west", roundId, aHash, ads, total);
        Assert.Equal("SpecificationMismatch", forA.Failure?.Code);
        Assert.True(forA.Message.IsEmpty);
        SecAggStepResponse forB = await Begin("us-east", roundId, bHash, ads, total);
        Assert.Equal("SpecificationMismatch", forB.Failure?.Code);
        Assert.True(forB.Message.IsEmpty);
    }

    // Attack 2: a host added a key of its own to the verifier's key set, forged peer tokens (hardware type, the
    // right measurement, other regions) and played server. The host can no longer hand the enclave any key; even a
    // colluding coordinator that lists forged peers gets a refusal.
    [Fact]
    public async Task ForgedPeerTokensSignedWithAKeyTheImageDoesNotPinAreRefused()
    {
        string roundId = NewRoundId();
        RoundSpecification spec = Specification(roundId);
        byte[] hash = SHA256.HashData(spec.ToByteArray());
        PrepareResponse prepared = await Prepare("eu-west", Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, spec.ToByteArray(), _f.CoordinatorKeyId));
        Assert.True(prepared.ResultCase == PrepareResponse.ResultOneofCase.Advertisement, prepared.Failure?.ToString());
        Advertisement honest = Advertisement.Parser.ParseFrom(prepared.Advertisement.Payload);

        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var ads = new Dictionary<string, SignedMessage>(StringComparer.Ordinal) { ["eu-west"] = prepared.Advertisement };
        foreach (string region in new[] { "us-east", "ap-south" })
        {
            ads[region] = ForgedPeer(honest, region, attacker);
        }

        long total = ads.Values.Sum(ad => Advertisement.Parser.ParseFrom(ad.Payload).SampleCount);
        SecAggStepResponse begin = await Begin("eu-west", roundId, hash, ads, total);
        Assert.Equal("TokenInvalid", begin.Failure?.Code);
        Assert.True(begin.Message.IsEmpty);
    }

    // Attack 4: the host swapped in a dataset of its own (37 examples, its own key, a policy for the right
    // measurement and region). The specification names the dataset and the owner's key; the host's file does not
    // authenticate under that key, and the enclave never asks for the host's key.
    [Fact]
    public async Task AHostChosenDatasetOrKeyIsRefused()
    {
        string name = $"swap-{Guid.NewGuid():N}"[..12];
        (Uri url, ServiceProcess host) = await _f.Federation.StartExtraHostAsync(name, "eu-west", _f.Federation.ImageDirectory, "eu-west", CancellationToken.None);
        try
        {
            string dataFile = Path.Combine(_f.Federation.HostDirectory(name), "data", LocalFederation.DatasetId("eu-west") + ".encds");
            byte[] hostKey = RandomNumberGenerator.GetBytes(32);
            Enclave.Cli.DataOwner.DatasetProtector.Protect("/usr/share/datasets/fashion-mnist", LocalFederation.DatasetId("eu-west"), "eu-west", 0, 3, 37, dataFile + ".swap", hostKey);
            File.Move(dataFile + ".swap", dataFile, overwrite: true);
            using var hostOwner = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            string policy = Enclave.Cli.Commands.KeyCommands.BuildPolicy(_f.Federation.Issuer, [_f.Federation.Measurement], ["eu-west"], allowSimulated: true);
            string hostKeyId = await Enclave.Cli.Commands.KeyCommands.RegisterAsync(_f.Federation.BrokerUrl, hostOwner, "eu-west-data", policy, hostKey, _f.Federation.OperatorTls, CancellationToken.None);
            Assert.NotEqual(_f.Federation.KeyIds["eu-west"], hostKeyId);

            using GrpcChannel channel = ServiceHost.CreateChannel(url, _f.Federation.OperatorTls);
            var client = new RegionHost.RegionHostClient(channel);
            RoundSpecification spec = Specification(NewRoundId());
            PrepareResponse prepared = await client.PrepareAsync(new PrepareRequest
            {
                Specification = Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, spec.ToByteArray(), _f.CoordinatorKeyId),
                GlobalModel = ByteString.CopyFrom(MemoryMarshal.AsBytes(Model.AsSpan())),
            });
            Assert.Equal("DatasetChunkAuthenticationFailed", prepared.Failure?.Code);
            Assert.True(prepared.Advertisement is null);
        }
        finally
        {
            await _f.Federation.StopAsync(host);
        }
    }

    [Fact]
    public async Task ARoundSpecificationIsPreparedOnceAndExpiredOnesAreRefused()
    {
        RoundSpecification spec = Specification(NewRoundId());
        CoordinatorSigned signed = Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, spec.ToByteArray(), _f.CoordinatorKeyId);
        Assert.True((await Prepare("ap-south", signed)).ResultCase == PrepareResponse.ResultOneofCase.Advertisement);
        Assert.Equal("RoundSpecificationReplayed", (await Prepare("ap-south", signed)).Failure?.Code);

        RoundSpecification old = Specification(NewRoundId());
        old.IssuedAt -= 7200;
        old.ExpiresAt -= 7200;
        Assert.Equal("RoundSpecificationExpired", (await Prepare("ap-south", Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, old.ToByteArray(), _f.CoordinatorKeyId))).Failure?.Code);

        RoundSpecification otherModel = Specification(NewRoundId());
        otherModel.GlobalModelSha256 = ByteString.CopyFrom(new byte[32]);
        Assert.Equal("GlobalModelMismatch", (await Prepare("ap-south", Sign(_f.CoordinatorKey, RoundBinding.SpecificationKind, otherModel.ToByteArray(), _f.CoordinatorKeyId))).Failure?.Code);
    }

    // Attack 7: when the broker refused a manifest, the model had already advanced with no audit record.
    [Fact]
    public async Task TheModelAdvancesOnlyAfterItsManifestIsRecorded()
    {
        // A broker that does not know this coordinator refuses its manifests (ManifestNotTrusted).
        string suffix = Guid.NewGuid().ToString("N")[..8];
        ServiceReadyFile refusing = await _f.Federation.StartServiceAsync("broker-" + suffix,
            ["serve", "broker", "--data-dir", Path.Combine(_f.Federation.Work, "broker-" + suffix), "--verifier-issuer", _f.Federation.Issuer,
             "--verifier-keys", _f.Federation.VerifierKeysPath, "--simulated"], CancellationToken.None);
        string data = Path.Combine(_f.Federation.Work, "coordinator-" + suffix);
        Directory.CreateDirectory(data);
        foreach (string file in new[] { "coordinator.key", "coordinator.jwk" })
        {
            File.Copy(Path.Combine(_f.Federation.AggregatorDirectory, file), Path.Combine(data, file));
        }

        Uri aggregator = await _f.Federation.StartAggregatorAsync(CancellationToken.None, refusing.Grpc, data);
        using GrpcChannel channel = ServiceHost.CreateChannel(aggregator, _f.Federation.OperatorTls);
        Enclave.Protocol.Coordinator.RoundSummary summary = await new Enclave.Protocol.Coordinator.Coordinator.CoordinatorClient(channel)
            .RunRoundAsync(new Enclave.Protocol.Coordinator.RunRoundRequest());

        Assert.False(summary.Completed);
        Enclave.Protocol.Coordinator.RegionFailure failure = Assert.Single(summary.Failures);
        Assert.Equal("RoundAborted", failure.Code);
        Assert.Contains("ManifestNotTrusted", failure.Message, StringComparison.Ordinal);
        Assert.Empty(summary.Participants);
        Assert.False(File.Exists(Path.Combine(data, "model.f32")));
        Assert.False(File.Exists(Path.Combine(data, "round.txt")));
        Assert.False(Directory.Exists(Path.Combine(data, "manifests")) && Directory.EnumerateFiles(Path.Combine(data, "manifests")).Any());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(ModelSpec.Mlp(Hidden).InitialModel(7).AsSpan()))), summary.ModelSha256);
    }

    private RoundSpecification Specification(string roundId, long maxSamples = 100_000)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var spec = new RoundSpecification
        {
            Type = RoundBinding.SpecificationType,
            RoundId = roundId,
            Round = 1,
            GlobalModelSha256 = ByteString.CopyFrom(SHA256.HashData(MemoryMarshal.AsBytes(Model.AsSpan()))),
            Plan = File.ReadAllText(_f.Federation.PlanPath).Trim(),
            PlanOwnerKey = File.ReadAllText(_f.Federation.PlanOwnerKeyPath),
            Secagg = new SecAggSpecification { Quantization = new QuantizationConfig { Clip = 8, ScaleBits = 20 }, RingBits = 32, MinimumCohort = 3 },
            IssuedAt = now.ToUnixTimeSeconds(),
            ExpiresAt = now.AddMinutes(10).ToUnixTimeSeconds(),
        };
        foreach (string region in _f.Federation.Regions)
        {
            spec.Cohort.Add(new CohortMember { Region = region, DatasetId = LocalFederation.DatasetId(region), KeyId = _f.Federation.KeyIds[region], MaxSamples = maxSamples });
        }

        return spec;
    }

    private async Task<PrepareResponse> Prepare(string region, CoordinatorSigned specification) =>
        await _f.Hosts[region].PrepareAsync(new PrepareRequest { Specification = specification, GlobalModel = ByteString.CopyFrom(MemoryMarshal.AsBytes(Model.AsSpan())) });

    private async Task<SecAggStepResponse> Begin(string region, string roundId, byte[] specHash, Dictionary<string, SignedMessage> ads, long total)
    {
        var body = new SecAggBegin { SpecificationSha256 = ByteString.CopyFrom(specHash), TotalSamples = total, GraphSeed = ByteString.CopyFrom(new byte[32]) };
        body.Participants.AddRange(ads.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => new Participant { Advertisement = p.Value }));
        return await _f.Hosts[region].SecAggBeginAsync(new SecAggBeginRequest { RoundId = roundId, Begin = Sign(_f.CoordinatorKey, RoundBinding.BeginKind, body.ToByteArray(), _f.CoordinatorKeyId) });
    }

    private static CoordinatorSigned Sign(ECDsa key, string kind, byte[] payload, string keyId) => new()
    {
        Payload = ByteString.CopyFrom(payload),
        Signature = ByteString.CopyFrom(MessageSignature.Sign(key, kind, payload)),
        KeyId = keyId,
    };

    // A peer as the attacker forged it: the honest token's claims with another region and id, a hardware attestation
    // type, a signing key of the attacker's, signed by the attacker's "verifier" key under the real issuer.
    private static SignedMessage ForgedPeer(Advertisement honest, string region, ECDsa attacker)
    {
        string[] parts = honest.Token.Split('.');
        var claims = (JsonObject)JsonNode.Parse(Base64Url.Decode(parts[1]))!;
        using var peerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        claims["jti"] = Guid.NewGuid().ToString("N");
        claims["x-enclave-region"] = region;
        claims["x-ms-attestation-type"] = "sevsnpvm";
        claims["x-enclave-simulated"] = false;
        claims["x-ms-runtime"]!["keys"] = new JsonArray(Jwk.FromEcPublic(peerKey.ExportParameters(false), kid: "sig", use: "sig").ToJsonObject());
        string token = Jws.Sign(Encoding.UTF8.GetBytes(claims.ToJsonString()), attacker, Jwk.FromEcPublic(attacker.ExportParameters(false)).ComputeThumbprint(), "JWT");
        var ad = honest.Clone();
        ad.Region = region;
        ad.Token = token;
        byte[] payload = ad.ToByteArray();
        return new SignedMessage { Kind = "advertise", Payload = ByteString.CopyFrom(payload), Signature = ByteString.CopyFrom(MessageSignature.Sign(peerKey, "advertise", payload)) };
    }

    private static string NewRoundId() => $"attack-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
}
