// The local simulated federation, end to end: every party runs as its own process on loopback, and every step
// uses the same code paths as the individual `enclave` verbs.
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Aggregator.Rounds;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.Cli.Commands;
using Enclave.Cli.DataOwner;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.Hosting;
using Enclave.Protocol;
using Enclave.Protocol.Coordinator;
using Enclave.Protocol.Round;
using Grpc.Net.Client;

namespace Enclave.Cli.Demo;

internal sealed record DemoOptions(
    int Rounds,
    IReadOnlyList<string> Regions,
    string? JsonPath,
    string WorkDirectory,
    int? SamplesPerRegion,
    int Hidden,
    int Epochs,
    bool SkipForbidden,
    IReadOnlyList<DemoFault> Faults,
    bool DiscloseInputs = false);

internal sealed class DemoRunner
{
    private readonly DemoOptions _options;
    private readonly TextWriter _out;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<ServiceProcess> _services = [];

    public DemoRunner(DemoOptions options, TextWriter output)
    {
        _options = options;
        _out = output;
    }

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        if (_options.Regions.Count < 3)
        {
            throw new CliException("the demo needs at least three regions (staged secure aggregation needs a cohort of three or more)");
        }

        foreach (string region in _options.Regions)
        {
            if (!Enclave.AttestationVerifier.Nodes.EnrollmentRequest.IsValidRegion(region))
            {
                throw new CliException($"region '{region}' must match [a-z0-9-]{{1,64}}");
            }
        }

        foreach (DemoFault fault in _options.Faults)
        {
            if (!_options.Regions.Contains(fault.Region, StringComparer.Ordinal))
            {
                throw new CliException($"--fault names region '{fault.Region}', which is not in --regions");
            }
        }

        string work = Path.GetFullPath(_options.WorkDirectory);
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        try
        {
            return await RunCoreAsync(work, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (ServiceProcess service in _services)
            {
                await service.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<int> RunCoreAsync(string work, CancellationToken cancellationToken)
    {
        string enclaveDir = DemoPaths.DefaultEnclaveDirectory;
        string measurement = EnclaveMeasurement.Compute(enclaveDir);
        Say($"Simulated confidential federation across {string.Join(", ", _options.Regions)} ({_options.Rounds} rounds)");
        Say("All enclave evidence here is SIMULATED: real cryptography, no hardware isolation.");
        Say($"Enclave build {enclaveDir}");
        Say($"  measurement {measurement}");

        // Security team: a simulated platform root (stands in for the CPU vendor), one platform per host, a team key.
        string rootDir = Path.Combine(work, "simulated-root");
        SimulatedPlatformAuthority.CreateRoot(rootDir);
        string teamKeyPath = Path.Combine(work, "security-team", "team.key");
        using ECDsa teamKey = KeyFiles.CreateSigningKey(teamKeyPath, teamKeyPath + ".jwk");
        var platformIds = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string region in _options.Regions)
        {
            platformIds[region] = SimulatedPlatformAuthority.CreatePlatform(rootDir, Path.Combine(work, "hosts", region, "platform"));
        }

        string tamperedPlatformId = SimulatedPlatformAuthority.CreatePlatform(rootDir, Path.Combine(work, "hosts", "tampered", "platform"));

        // Services, each its own process on loopback. Each listens on a port the system chooses and reports it in a
        // ready file, so nothing here picks a port that another process could take before the service binds it.
        string logs = Path.Combine(work, "logs");
        Step("starting the attestation verifier (simulated evidence explicitly allowed)");
        ServiceProcess verifier = Start("verifier", logs,
            "serve", "verifier", "--data-dir", Path.Combine(work, "verifier"),
            "--allow-simulated", "--simulated-root", Path.Combine(rootDir, SimulatedPlatformAuthority.RootCertificateFileName),
            "--enrollment-key", teamKeyPath + ".jwk");
        ServiceReadyFile verifierReady = await verifier.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        Uri verifierUrl = verifierReady.Grpc;
        string issuer = verifierReady.Http!.ToString().TrimEnd('/');

        // The coordinator's manifest signing key is provisioned before any service starts, so that the broker can be
        // told, from its first request, whose round manifests it records.
        string aggregatorDir = Path.Combine(work, "aggregator");
        string coordinatorKey = CoordinatorState.ProvisionSigningKey(aggregatorDir);

        Step("starting the key broker (file master key: simulated mode; audit log on)");
        string brokerDir = Path.Combine(work, "broker");
        ServiceProcess broker = Start("broker", logs,
            "serve", "broker", "--data-dir", brokerDir, "--verifier-issuer", issuer, "--simulated", "--coordinator-key", coordinatorKey);
        Uri brokerUrl = (await broker.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false)).Grpc;

        Step("security team: enrolling each host's platform with its region");
        foreach (string region in _options.Regions)
        {
            await NodeCommands.EnrollAsync(verifierUrl, teamKey, platformIds[region], region, replace: false, cancellationToken).ConfigureAwait(false);
            Say($"    {region,-10} platform {platformIds[region][..16]}…");
        }

        await NodeCommands.EnrollAsync(verifierUrl, teamKey, tamperedPlatformId, _options.Regions[0], replace: false, cancellationToken).ConfigureAwait(false);
        Say($"    {_options.Regions[0],-10} platform {tamperedPlatformId[..16]}… (the host that will run modified enclave code)");

        Step("data owners: encrypting a disjoint Fashion-MNIST shard per region and registering its key");
        for (int i = 0; i < _options.Regions.Count; i++)
        {
            string region = _options.Regions[i];
            byte[] dataKey = DatasetProtector.NewDataKey();
            try
            {
                ProtectedDataset dataset = DatasetProtector.Protect(
                    "/usr/share/datasets/fashion-mnist", DatasetId(region), region, i, _options.Regions.Count, _options.SamplesPerRegion,
                    Path.Combine(work, "hosts", region, "data", DatasetId(region) + ".encds"), dataKey);
                string ownerKeyPath = Path.Combine(work, "owners", region, "owner.key");
                using ECDsa owner = KeyFiles.CreateSigningKey(ownerKeyPath, ownerKeyPath + ".jwk");
                string policy = KeyCommands.BuildPolicy(issuer, [measurement], [region], allowSimulated: true);
                await KeyCommands.RegisterAsync(brokerUrl, owner, KeyName(region), policy, dataKey, cancellationToken).ConfigureAwait(false);
                Say($"    {region,-10} {dataset.Examples,6} examples, {dataset.CiphertextBytes / 1024.0 / 1024.0:F1} MiB ciphertext, key {KeyName(region)} (release only in {region}, this measurement, no debug)");
                foreach (DemoFault fault in _options.Faults.Where(f => f.Region == region))
                {
                    Say($"    {region,-10} injected fault: {fault.Describe()}");
                    fault.Apply(dataset.Path);
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }
        }

        Step("starting one regional host per region (each launches its enclave as a child process)");
        var hosts = new Dictionary<string, ServiceProcess>(StringComparer.Ordinal);
        foreach (string region in _options.Regions)
        {
            hosts[region] = StartHost(region, region, enclaveDir, Path.Combine(work, "hosts", region), verifierUrl, issuer, brokerUrl, logs);
        }

        var hostUrls = new Dictionary<string, Uri>(StringComparer.Ordinal);
        foreach ((string region, ServiceProcess host) in hosts)
        {
            hostUrls[region] = (await host.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false)).Grpc;
        }

        Step("starting the aggregator (coordinator)");
        var aggregatorArgs = new List<string>
        {
            "serve", "aggregator", "--data-dir", aggregatorDir, "--verifier-issuer", issuer,
            "--measurement", measurement, "--broker", brokerUrl.ToString(), "--allow-simulated", "--hidden", Number(_options.Hidden), "--epochs", Number(_options.Epochs),
        };
        foreach (string region in _options.Regions)
        {
            aggregatorArgs.AddRange(["--host", $"{region}={hostUrls[region]}"]);
        }

        ServiceProcess aggregator = Start("aggregator", logs, [.. aggregatorArgs]);
        Uri aggregatorUrl = (await aggregator.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false)).Grpc;

        var denials = new List<(string Region, string Attempt, string WireCode)>();
        if (!_options.SkipForbidden)
        {
            denials.AddRange(await ForbiddenAttemptsAsync(work, enclaveDir, hostUrls, verifierUrl, issuer, brokerUrl, logs, cancellationToken).ConfigureAwait(false));
        }

        var rounds = new List<RoundSummary>();
        using (GrpcChannel channel = GrpcChannel.ForAddress(aggregatorUrl))
        {
            var coordinator = new Coordinator.CoordinatorClient(channel);
            for (int r = 1; r <= _options.Rounds; r++)
            {
                Step($"round {r}: attest -> release key -> decrypt + train in enclave -> mask -> sign -> aggregate");
                RoundSummary summary = await coordinator.RunRoundAsync(new RunRoundRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
                rounds.Add(summary);
                foreach (ParticipantSummary p in summary.Participants)
                {
                    Say($"    {p.Region,-10} token {p.TokenId[..12]}… key receipt {p.KeyReceiptId[..12]}… {p.SampleCount} samples, local accuracy {p.TrainAccuracy:F3}");
                }

                foreach (RegionFailure f in summary.Failures)
                {
                    Say($"    {f.Region,-10} FAILED at {f.Stage}: {f.Code} {f.Message}");
                }

                Say(summary.Completed
                    ? $"    global model accuracy on the Fashion-MNIST test set: {summary.Accuracy:F4} (manifest {summary.ManifestSha256[..16]}…, audit receipt {summary.ManifestReceiptId[..12]}…)"
                    : "    round did not complete; the global model is unchanged");
            }
        }

        Step("stopping services; auditor verifies the broker's log offline");
        foreach (ServiceProcess service in _services)
        {
            await service.DisposeAsync().ConfigureAwait(false);
        }

        _services.Clear();
        AuditVerificationResult audit = AuditCommands.Verify(brokerDir, null);
        (int granted, List<(string Region, string Reason, string Detail)> deniedEntries, int entries) = ReadReleases(brokerDir);

        PrintTable(rounds, granted, deniedEntries, audit);
        if (_options.JsonPath is { } jsonPath)
        {
            WriteJson(jsonPath, rounds, granted, deniedEntries, audit);
            Say($"wrote {jsonPath}");
        }

        bool ok = audit.IsValid && rounds.Count > 0 && rounds[^1].Completed;
        Say($"done in {_clock.Elapsed.TotalSeconds:F0} s; logs in {logs}");
        return ok ? 0 : 1;
    }

    private async Task<List<(string, string, string)>> ForbiddenAttemptsAsync(
        string work, string enclaveDir, IReadOnlyDictionary<string, Uri> hostUrls, Uri verifierUrl, string issuer, Uri brokerUrl, string logs, CancellationToken cancellationToken)
    {
        var results = new List<(string, string, string)>();
        string home = _options.Regions[0];
        string other = _options.Regions[1];

        Step($"forbidden 1: an enclave whose code differs from the released build asks for {home}'s key");
        string tamperedDir = Path.Combine(work, "tampered-enclave");
        CopyDirectory(enclaveDir, tamperedDir);
        await using (FileStream dll = new(Path.Combine(tamperedDir, "Enclave.EnclaveApp.dll"), FileMode.Append))
        {
            dll.Write("modified enclave code"u8);
        }

        ServiceProcess tampered = StartHost("tampered", home, tamperedDir, Path.Combine(work, "hosts", "tampered"), verifierUrl, issuer, brokerUrl, logs, datasetRegion: home);
        Uri tamperedUrl = (await tampered.WaitReadyAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false)).Grpc;
        ProbeReleaseResponse first = await KeyCommands.ProbeAsync(tamperedUrl, KeyName(home), cancellationToken).ConfigureAwait(false);
        Say(first.Granted
            ? "    GRANTED (this must not happen)"
            : $"    denied: {first.Failure?.Code} (enclave measurement {first.Measurement[..16]}…, region {first.Region})");
        results.Add((home, "modified-code", first.Granted ? "Granted" : first.Failure?.Code ?? "Unknown"));
        await tampered.DisposeAsync().ConfigureAwait(false);
        _services.Remove(tampered);

        Step($"forbidden 2: the host enrolled in {other} asks for {home}'s key");
        ProbeReleaseResponse second = await KeyCommands.ProbeAsync(hostUrls[other], KeyName(home), cancellationToken).ConfigureAwait(false);
        Say(second.Granted ? "    GRANTED (this must not happen)" : $"    denied: {second.Failure?.Code} (enclave attested in {second.Region})");
        results.Add((other, "cross-region", second.Granted ? "Granted" : second.Failure?.Code ?? "Unknown"));
        return results;
    }

    private ServiceProcess StartHost(string name, string region, string enclaveDir, string hostDir, Uri verifier, string issuer, Uri broker, string logs, string? datasetRegion = null)
    {
        string dataRegion = datasetRegion ?? region;
        bool crash = datasetRegion is null && _options.Faults.Any(f => f.Region == region && f.Kind == DemoFaultKind.CrashAfterShareKeys);
        return Start($"host-{name}", logs,
            "serve", "host", "--exit-at-step", crash ? "2" : "0", "--test-disclose-inputs", _options.DiscloseInputs ? "true" : "false", "--region", region, "--dataset-id", DatasetId(dataRegion), "--key-name", KeyName(dataRegion),
            "--data-dir", Path.Combine(hostDir, "data"), "--enclave-dir", enclaveDir, "--platform-dir", Path.Combine(hostDir, "platform"),
            "--verifier", verifier.ToString(), "--verifier-issuer", issuer, "--broker", broker.ToString());
    }

    private ServiceProcess Start(string name, string logs, params string[] arguments)
    {
        ServiceProcess service = ServiceProcess.Start(name, arguments, logs);
        _services.Add(service);
        return service;
    }

    private static (int Granted, List<(string, string, string)> Denied, int Entries) ReadReleases(string brokerDir)
    {
        using var store = new SqliteKeyBrokerStore(SqliteKeyBrokerStore.ConnectionStringFor(brokerDir));
        int granted = 0, entries = 0;
        var denied = new List<(string, string, string)>();
        foreach (AuditEntryRecord record in store.ReadAuditEntries())
        {
            entries++;
            if (record.Kind == nameof(AuditEntryKind.ReleaseGranted))
            {
                granted++;
            }
            else if (record.Kind == nameof(AuditEntryKind.ReleaseDenied) && JsonNode.Parse(record.Body) is JsonObject body)
            {
                denied.Add((body["region"]?.GetValue<string>() ?? "?", body["reason"]?.GetValue<string>() ?? "?", body["detail"]?.GetValue<string>() ?? string.Empty));
            }
        }

        return (granted, denied, entries);
    }

    private void PrintTable(List<RoundSummary> rounds, int granted, List<(string Region, string Reason, string Detail)> denied, AuditVerificationResult audit)
    {
        _out.WriteLine();
        _out.WriteLine("  round | accuracy | participants");
        _out.WriteLine("  ------+----------+------------------------------");
        foreach (RoundSummary r in rounds)
        {
            string accuracy = r.Completed ? r.Accuracy.ToString("F4", CultureInfo.InvariantCulture) : "failed";
            _out.WriteLine($"  {r.Round,5} | {accuracy,8} | {string.Join(", ", r.Participants.Select(p => p.Region))}");
        }

        _out.WriteLine();
        _out.WriteLine($"  key releases granted: {granted}, denied: {denied.Count}");
        foreach ((string region, string reason, string detail) in denied)
        {
            _out.WriteLine($"    denied {region,-10} {reason}: {detail}");
        }

        _out.WriteLine(audit.IsValid
            ? $"  audit log: {audit.VerifiedEntries} entries, Merkle root matches the signed tree head"
            : $"  audit log: INVALID at entry {audit.FirstBadSequence}: {audit.Detail}");
        _out.WriteLine();
    }

    private void WriteJson(string path, List<RoundSummary> rounds, int granted, List<(string Region, string Reason, string Detail)> denied, AuditVerificationResult audit)
    {
        var roundArray = new JsonArray();
        foreach (RoundSummary r in rounds)
        {
            var participants = new JsonArray();
            foreach (ParticipantSummary p in r.Participants)
            {
                participants.Add(new JsonObject { ["region"] = p.Region, ["measurement"] = p.Measurement, ["tokenId"] = p.TokenId });
            }

            var failures = new JsonArray();
            foreach (RegionFailure f in r.Failures)
            {
                failures.Add(new JsonObject { ["region"] = f.Region, ["stage"] = f.Stage, ["code"] = f.Code, ["message"] = f.Message });
            }

            roundArray.Add(new JsonObject
            {
                ["round"] = r.Round,
                ["accuracy"] = r.Completed ? r.Accuracy : null,
                ["completed"] = r.Completed,
                ["participants"] = participants,
                ["failures"] = failures,
                ["modelSha256"] = r.ModelSha256,
                ["manifestSha256"] = r.ManifestSha256,
                ["aggregateSha256"] = r.AggregateSha256,
            });
        }

        var denials = new JsonArray();
        foreach ((string region, string reason, string detail) in denied)
        {
            denials.Add(new JsonObject { ["region"] = region, ["reason"] = reason, ["detail"] = detail });
        }

        RoundSummary? last = rounds.LastOrDefault(r => r.Completed);
        var document = new JsonObject
        {
            ["regions"] = new JsonArray([.. _options.Regions.Select(r => (JsonNode)JsonValue.Create(r))]),
            ["simulated"] = true,
            ["rounds"] = roundArray,
            ["finalAccuracy"] = last?.Accuracy,
            ["keyReleases"] = new JsonObject { ["granted"] = granted, ["denied"] = denied.Count, ["denials"] = denials },
            ["audit"] = new JsonObject { ["entries"] = audit.VerifiedEntries, ["verified"] = audit.IsValid },
            ["elapsedSeconds"] = Math.Round(_clock.Elapsed.TotalSeconds, 1),
        };
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        File.WriteAllText(path, document.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static void CopyDirectory(string source, string destination)
    {
        foreach (string directory in Directory.GetDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(directory.Replace(source, destination, StringComparison.Ordinal));
        }

        Directory.CreateDirectory(destination);
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            string target = file.Replace(source, destination, StringComparison.Ordinal);
            if (Path.GetFileName(file).StartsWith("Enclave.", StringComparison.Ordinal))
            {
                File.Copy(file, target);
            }
            else
            {
                File.CreateSymbolicLink(target, file);
            }
        }
    }

    private static string DatasetId(string region) => $"fmnist-{region}";

    private static string KeyName(string region) => $"{region}-data";

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    private void Step(string text) => _out.WriteLine($"[{_clock.Elapsed.TotalSeconds,5:F1}s] {text}");

    private void Say(string text) => _out.WriteLine(text);
}
