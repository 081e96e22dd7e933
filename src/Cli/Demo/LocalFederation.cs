// The parties of a simulated federation on one machine, each its own process, set up the way their operators
// would: the security team's simulated root, platforms and enrolments; the verifier; the enclave image configured
// with the verifier's and the coordinator's keys (inside its measurement); the key broker pinning the verifier's
// keys; each data owner's encrypted shard and key under a policy for that measurement and region; one regional
// host per region. The demo runs rounds on it; end-to-end tests play attacker against it.
using System.Security.Cryptography;
using Enclave.Aggregator.Rounds;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Tokens;
using Enclave.Cli.Commands;
using Enclave.Cli.DataOwner;
using Enclave.Crypto;
using Enclave.Hosting;

namespace Enclave.Cli.Demo;

/// <param name="EnclaveBuild">The enclave build to configure (default: the one this program carries).</param>
/// <param name="CliAssembly">The `enclave` assembly each service runs (default: this one).</param>
/// <param name="PlanJson">The training plan the model owner signs (default: <see cref="LocalFederation.DefaultPlan"/>).</param>
internal sealed record FederationOptions(
    IReadOnlyList<string> Regions,
    string WorkDirectory,
    int? SamplesPerRegion,
    IReadOnlyList<DemoFault> Faults,
    bool DiscloseInputs = false,
    string? EnclaveBuild = null,
    string? CliAssembly = null,
    string? PlanJson = null,
    Enclave.Aggregator.Data.Partition? Partition = null);

internal sealed class LocalFederation : IAsyncDisposable
{
    private static readonly TimeSpan s_ready = TimeSpan.FromSeconds(60);
    private readonly FederationOptions _options;
    private readonly Action<string> _say;
    private readonly List<ServiceProcess> _services = [];

    private LocalFederation(FederationOptions options, Action<string> say)
    {
        _options = options;
        _say = say;
        Work = Path.GetFullPath(options.WorkDirectory);
    }

    public string Work { get; }

    public string Logs => Path.Combine(Work, "logs");

    public string RootDirectory => Path.Combine(Work, "simulated-root");

    public string VerifierDirectory => Path.Combine(Work, "verifier");

    public string VerifierKeysPath => Path.Combine(VerifierDirectory, VerifierSigningKey.PublicKeysFileName);

    public string BrokerDirectory => Path.Combine(Work, "broker");

    public string AggregatorDirectory => Path.Combine(Work, "aggregator");

    public string CoordinatorKeyPath => CoordinatorState.PublicKeyPath(AggregatorDirectory);

    public string ImageDirectory => Path.Combine(Work, "enclave-image");

    /// <summary>The model owner's folder: their key and the plan they signed.</summary>
    public string ModelOwnerDirectory => Path.Combine(Work, "model-owner");

    public string PlanPath => Path.Combine(ModelOwnerDirectory, "plan.jws");

    public string PlanOwnerKeyPath => Path.Combine(ModelOwnerDirectory, "owner.key.jwk");

    /// <summary>The signed plan's SHA-256, which every data owner's policy here pins.</summary>
    public string PlanHash { get; private set; } = string.Empty;

    /// <summary>The demo's plan: the 784-128-10 MLP, one local epoch of SGD with momentum per round, FedAvg.</summary>
    public const string DefaultPlan = """
        {"type":"enclave-training-plan/1","id":"demo-fashion-mlp","purpose":"fashion-classification",
         "model":{"kind":"mlp","hidden":128},"optimizer":{"learningRate":0.02,"momentum":0.9},
         "localEpochs":1,"batchSize":32,"rounds":1000,
         "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}},
         "updateClipNorm":100,"privacy":{"kind":"none"},"seed":7}
        """;

    /// <summary>The deployment CA and every party's certificate (for the loopback address the services listen on, and localhost).</summary>
    public string PkiDirectory => Path.Combine(Work, "pki");

    /// <summary>The operator's client identity (a certificate of the deployment CA): what the demo and tests use to
    /// enrol, register, probe and run rounds, and what the hosts and the coordinator admit.</summary>
    public TlsSettings OperatorTls { get; private set; } = null!;

    public string Measurement { get; private set; } = string.Empty;

    public string Issuer { get; private set; } = string.Empty;

    public Uri VerifierUrl { get; private set; } = null!;

    public Uri BrokerUrl { get; private set; } = null!;

    public ECDsa TeamKey { get; private set; } = null!;

    public string TeamKeyPath => Path.Combine(Work, "security-team", "team.key");

    public Dictionary<string, Uri> HostUrls { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> KeyIds { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, string> PlatformIds { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Regions => _options.Regions;

    public static string DatasetId(string region) => $"fmnist-{region}";

    public static string KeyName(string region) => $"{region}-data";

    public string HostDirectory(string name) => Path.Combine(Work, "hosts", name);

    /// <summary>Creates the work folder (which must not exist, or be empty) and starts every party but the
    /// coordinator.</summary>
    public static async Task<LocalFederation> StartAsync(FederationOptions options, Action<string> say, Action<string> step, CancellationToken cancellationToken)
    {
        var federation = new LocalFederation(options, say);
        try
        {
            await federation.StartCoreAsync(step, cancellationToken).ConfigureAwait(false);
            return federation;
        }
        catch
        {
            await federation.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartCoreAsync(Action<string> step, CancellationToken cancellationToken)
    {
        // Security team: a simulated platform root (stands in for the CPU vendor), one platform per host, a team key.
        SimulatedPlatformAuthority.CreateRoot(RootDirectory);
        TeamKey = KeyFiles.CreateSigningKey(TeamKeyPath, TeamKeyPath + ".jwk");
        foreach (string region in Regions)
        {
            PlatformIds[region] = SimulatedPlatformAuthority.CreatePlatform(RootDirectory, Path.Combine(HostDirectory(region), "platform"));
        }

        // The security team's deployment CA, and a certificate for every party, named as they are reached here.
        PkiCommands.InitAuthority(PkiDirectory, "Enclave demo CA", TimeSpan.FromDays(2));
        foreach (string name in new[] { "verifier", "broker", "aggregator", "operator" }.Concat(Regions.Select(r => "host-" + r)))
        {
            IssueCertificate(name);
        }

        OperatorTls = TlsSettings.Load(Path.Combine(PkiDirectory, "operator.crt"), Path.Combine(PkiDirectory, "operator.key"), Path.Combine(PkiDirectory, PkiCommands.CaCertificateFile));

        // The verifier's and the coordinator's signing keys are provisioned before any service starts: the enclave
        // image and the broker pin them, from files their operators hand over, not from anything fetched.
        VerifierSigningKey.LoadOrCreate(VerifierDirectory).Dispose();
        CoordinatorState.ProvisionSigningKey(AggregatorDirectory);

        // The model owner writes and signs the training plan; data owners read it and pin its hash.
        step("model owner: signing the training plan every round trains by");
        PlanHash = SignPlan(_options.PlanJson ?? DefaultPlan);
        _say($"  plan {PlanPath} (sha256 {PlanHash[..16]}…)");

        // Services, each its own process on loopback. Each listens on a port the system chooses and reports it in a
        // ready file, so nothing here picks a port that another process could take before the service binds it.
        step("starting the attestation verifier (simulated evidence explicitly allowed)");
        ServiceProcess verifier = Start("verifier",
            ["serve", "verifier", "--data-dir", VerifierDirectory,
            "--allow-simulated", "--simulated-root", Path.Combine(RootDirectory, SimulatedPlatformAuthority.RootCertificateFileName),
            "--enrollment-key", TeamKeyPath + ".jwk", .. TlsArguments("verifier")]);
        ServiceReadyFile verifierReady = await verifier.WaitReadyAsync(s_ready, cancellationToken).ConfigureAwait(false);
        VerifierUrl = verifierReady.Grpc;
        Issuer = verifierReady.Http!.ToString().TrimEnd('/');

        step("configuring the enclave image: verifier issuer and keys, coordinator key, simulated mode, all inside the measurement");
        EnclaveConfiguration configuration = ImageCommands.Configuration(
            EnclaveMode.Simulated, Issuer, KeyFiles.ReadPublicKeySet(VerifierKeysPath, "verifier keys"), KeyFiles.ReadPublicKeySet(CoordinatorKeyPath, "coordinator key"));
        Measurement = ImageCommands.Configure(_options.EnclaveBuild ?? DemoPaths.DefaultEnclaveDirectory, ImageDirectory, configuration, link: true);
        _say($"  image {ImageDirectory}");
        _say($"  measurement {Measurement}");

        step("starting the key broker (verifier keys pinned from a file; file master key: simulated mode; audit log on)");
        ServiceProcess broker = Start("broker",
            ["serve", "broker", "--data-dir", BrokerDirectory, "--verifier-issuer", Issuer, "--verifier-keys", VerifierKeysPath,
            "--simulated", "--coordinator-key", CoordinatorKeyPath, .. TlsArguments("broker")]);
        BrokerUrl = (await broker.WaitReadyAsync(s_ready, cancellationToken).ConfigureAwait(false)).Grpc;

        step("security team: enrolling each host's platform with its region");
        foreach (string region in Regions)
        {
            await NodeCommands.EnrollAsync(VerifierUrl, TeamKey, PlatformIds[region], region, replace: false, OperatorTls, cancellationToken).ConfigureAwait(false);
            _say($"    {region,-10} platform {PlatformIds[region][..16]}…");
        }

        step($"data owners: encrypting a disjoint Fashion-MNIST shard per region ({_options.Partition ?? Enclave.Aggregator.Data.Partition.Iid}) and registering its key");
        for (int i = 0; i < Regions.Count; i++)
        {
            string region = Regions[i];
            byte[] dataKey = DatasetProtector.NewDataKey();
            try
            {
                ProtectedDataset dataset = DatasetProtector.Protect(
                    "/usr/share/datasets/fashion-mnist", DatasetId(region), region, i, Regions.Count, _options.SamplesPerRegion,
                    Path.Combine(HostDirectory(region), "data", DatasetId(region) + ".encds"), dataKey, _options.Partition);
                string ownerKeyPath = Path.Combine(Work, "owners", region, "owner.key");
                using ECDsa owner = KeyFiles.CreateSigningKey(ownerKeyPath, ownerKeyPath + ".jwk");
                string policy = KeyCommands.BuildPolicy(Issuer, [Measurement], [region], allowSimulated: true, plans: [PlanHash]);
                KeyIds[region] = await KeyCommands.RegisterAsync(BrokerUrl, owner, KeyName(region), policy, dataKey, OperatorTls, cancellationToken).ConfigureAwait(false);
                _say($"    {region,-10} {dataset.Examples,6} examples, {dataset.CiphertextBytes / 1024.0 / 1024.0:F1} MiB ciphertext, key {KeyIds[region][..12]}…/{KeyName(region)} (release only in {region}, this measurement and plan, no debug)");
                foreach (DemoFault fault in _options.Faults.Where(f => f.Region == region))
                {
                    _say($"    {region,-10} injected fault: {fault.Describe()}");
                    fault.Apply(dataset.Path);
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }
        }

        step("starting one regional host per region (each launches the configured enclave image as a child process)");
        var hosts = new Dictionary<string, ServiceProcess>(StringComparer.Ordinal);
        foreach (string region in Regions)
        {
            bool crash = _options.Faults.Any(f => f.Region == region && f.Kind == DemoFaultKind.CrashAfterShareKeys);
            hosts[region] = StartHost(region, region, ImageDirectory, crash ? 2 : 0);
        }

        foreach ((string region, ServiceProcess host) in hosts)
        {
            HostUrls[region] = (await host.WaitReadyAsync(s_ready, cancellationToken).ConfigureAwait(false)).Grpc;
        }
    }

    /// <summary>Starts the coordinator over every region's host, dataset and key.</summary>
    /// <param name="broker">Where it records manifests (default: the federation's broker).</param>
    /// <param name="dataDirectory">Its data folder (default: the one holding the provisioned coordinator key).</param>
    public async Task<Uri> StartAggregatorAsync(CancellationToken cancellationToken, Uri? broker = null, string? dataDirectory = null)
    {
        var arguments = new List<string>
        {
            "serve", "aggregator", "--data-dir", dataDirectory ?? AggregatorDirectory, "--verifier-issuer", Issuer, "--verifier-keys", VerifierKeysPath,
            "--measurement", Measurement, "--broker", (broker ?? BrokerUrl).ToString(), "--allow-simulated",
            "--plan", PlanPath, "--plan-owner-key", PlanOwnerKeyPath,
        };
        arguments.AddRange(TlsArguments("aggregator"));
        foreach (string region in Regions)
        {
            arguments.AddRange(["--host", $"{region}={HostUrls[region]}", "--dataset", $"{region}={DatasetId(region)}", "--key", $"{region}={KeyIds[region]}"]);
        }

        ServiceProcess aggregator = Start(dataDirectory is null ? "aggregator" : "aggregator-" + Path.GetFileName(dataDirectory), [.. arguments]);
        return (await aggregator.WaitReadyAsync(s_ready, cancellationToken).ConfigureAwait(false)).Grpc;
    }

    private string SignPlan(string planJson)
    {
        Privacy.TrainingPlan plan;
        try
        {
            plan = Privacy.TrainingPlan.Parse(System.Text.Encoding.UTF8.GetBytes(planJson));
        }
        catch (Privacy.TrainingPlanException ex)
        {
            throw new CliException($"--plan: {ex.Message}");
        }

        using ECDsa owner = KeyFiles.CreateSigningKey(Path.Combine(ModelOwnerDirectory, "owner.key"), PlanOwnerKeyPath);
        File.WriteAllText(PlanPath, Privacy.SignedPlan.Sign(plan, owner).Compact + "\n");
        return plan.Sha256Hex;
    }

    /// <summary>Starts a further regional host of <paramref name="region"/> (its own platform, enrolled there)
    /// running the image in <paramref name="imageDirectory"/>, serving <paramref name="dataRegion"/>'s data.</summary>
    public async Task<(Uri Url, ServiceProcess Process)> StartExtraHostAsync(string name, string region, string imageDirectory, string dataRegion, CancellationToken cancellationToken)
    {
        string platformId = SimulatedPlatformAuthority.CreatePlatform(RootDirectory, Path.Combine(HostDirectory(name), "platform"));
        await NodeCommands.EnrollAsync(VerifierUrl, TeamKey, platformId, region, replace: false, OperatorTls, cancellationToken).ConfigureAwait(false);
        IssueCertificate("host-" + name);
        string data = Path.Combine(HostDirectory(name), "data");
        Directory.CreateDirectory(data);
        string source = Path.Combine(HostDirectory(dataRegion), "data", DatasetId(dataRegion) + ".encds");
        File.Copy(source, Path.Combine(data, Path.GetFileName(source)));
        ServiceProcess host = StartHost(name, region, imageDirectory, exitAtStep: 0);
        return ((await host.WaitReadyAsync(s_ready, cancellationToken).ConfigureAwait(false)).Grpc, host);
    }

    /// <summary>Starts one more `enclave serve ...` process (stopped with the federation) and waits until it serves.</summary>
    public async Task<ServiceReadyFile> StartServiceAsync(string name, string[] arguments, CancellationToken cancellationToken) =>
        await Start(name, [.. arguments, .. TlsArguments(arguments[1])]).WaitReadyAsync(s_ready, cancellationToken).ConfigureAwait(false);

    /// <summary>Stops one service started here (and forgets it).</summary>
    public async Task StopAsync(ServiceProcess service)
    {
        _services.Remove(service);
        await service.DisposeAsync().ConfigureAwait(false);
    }

    private ServiceProcess StartHost(string name, string region, string imageDirectory, int exitAtStep) =>
        Start($"host-{name}",
            ["serve", "host", "--exit-at-step", exitAtStep.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--test-disclose-inputs", _options.DiscloseInputs ? "true" : "false", "--region", region,
            "--data-dir", Path.Combine(HostDirectory(name), "data"), "--enclave-dir", imageDirectory, "--platform-dir", Path.Combine(HostDirectory(name), "platform"),
            "--verifier", VerifierUrl.ToString(), "--broker", BrokerUrl.ToString(), .. TlsArguments($"host-{name}")]);

    private void IssueCertificate(string name) =>
        PkiCommands.Issue(PkiDirectory, name, ["localhost"], [ServiceHost.DefaultListenAddress], PkiDirectory, DateTimeOffset.UtcNow, TimeSpan.FromDays(1));

    // The TLS options of a party's `enclave serve` command line.
    private string[] TlsArguments(string name) =>
        ["--tls-cert", Path.Combine(PkiDirectory, name + ".crt"), "--tls-key", Path.Combine(PkiDirectory, name + ".key"), "--tls-ca", Path.Combine(PkiDirectory, PkiCommands.CaCertificateFile)];

    private ServiceProcess Start(string name, string[] arguments)
    {
        ServiceProcess service = ServiceProcess.Start(name, arguments, Logs, _options.CliAssembly);
        _services.Add(service);
        return service;
    }

    /// <summary>Stops every service started here.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (ServiceProcess service in _services)
        {
            await service.DisposeAsync().ConfigureAwait(false);
        }

        _services.Clear();
        TeamKey?.Dispose();
        OperatorTls?.Dispose();
    }
}
