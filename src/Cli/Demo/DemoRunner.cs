// The local simulated federation, end to end: every party runs as its own process on loopback, and every step
// uses the same code paths as the individual `enclave` verbs.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Cli.Commands;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.Privacy;
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
    string? PlanPath,
    bool SkipForbidden,
    IReadOnlyList<DemoFault> Faults,
    bool DiscloseInputs = false,
    bool Json = false,
    Enclave.Aggregator.Data.Partition? Partition = null);

internal sealed class DemoRunner
{
    /// <summary>Marks a work folder as the demo's own, so that a rerun may clear it and no other folder is ever cleared.</summary>
    public const string WorkMarker = ".enclave-demo";

    private readonly DemoOptions _options;
    private readonly TextWriter _out;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<uint, double> _roundSeconds = [];

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

        // The plan is read and checked before anything is created, so a bad one leaves the work folder as it was.
        string? planJson = null;
        if (_options.PlanPath is { } planPath)
        {
            TrainingPlan plan = PlanCommands.ReadAny(planPath);
            if (plan.Rounds < _options.Rounds)
            {
                throw new CliException($"--plan {planPath} allows {plan.Rounds} rounds; --rounds asks for {_options.Rounds}");
            }

            planJson = plan.ToJson().ToJsonString();
        }

        string work = PrepareWorkDirectory(Path.GetFullPath(_options.WorkDirectory));
        Say($"Simulated confidential federation across {string.Join(", ", _options.Regions)} ({_options.Rounds} rounds)");
        Say("All enclave evidence here is SIMULATED: real cryptography, no hardware isolation.");
        Say($"Enclave build {DemoPaths.DefaultEnclaveDirectory}");
        await using LocalFederation federation = await LocalFederation.StartAsync(
            new FederationOptions(_options.Regions, work, _options.SamplesPerRegion, _options.Faults, _options.DiscloseInputs, PlanJson: planJson, Partition: _options.Partition), Say, Step, cancellationToken).ConfigureAwait(false);
        return await RunCoreAsync(federation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the work folder, or clears one that a previous demo run created (it holds the marker);
    /// any other existing, non-empty folder is refused rather than deleted.</summary>
    public static string PrepareWorkDirectory(string work)
    {
        if (Directory.Exists(work) && Directory.EnumerateFileSystemEntries(work).Any())
        {
            if (!File.Exists(Path.Combine(work, WorkMarker)))
            {
                throw new CliException($"--work-dir {work} exists, is not empty and was not created by the demo; choose another folder");
            }

            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        File.WriteAllText(Path.Combine(work, WorkMarker), "created by `enclave demo`; the next run clears this folder\n");
        return work;
    }

    private async Task<int> RunCoreAsync(LocalFederation federation, CancellationToken cancellationToken)
    {
        Step("starting the aggregator (coordinator: signs each round's specification with the key the image pins)");
        Uri aggregatorUrl = await federation.StartAggregatorAsync(cancellationToken).ConfigureAwait(false);

        var denials = new List<(string Region, string Attempt, string WireCode)>();
        if (!_options.SkipForbidden)
        {
            denials.AddRange(await ForbiddenAttemptsAsync(federation, cancellationToken).ConfigureAwait(false));
        }

        var rounds = new List<RoundSummary>();
        using (GrpcChannel channel = CliChannel.Create(aggregatorUrl, federation.OperatorTls))
        {
            var coordinator = new Coordinator.CoordinatorClient(channel);
            for (int r = 1; r <= _options.Rounds; r++)
            {
                Step($"round {r}: signed specification -> attest -> release key -> decrypt + train in enclave -> mask -> sign -> aggregate");
                long started = Stopwatch.GetTimestamp();
                RoundSummary summary = await coordinator.RunRoundAsync(new RunRoundRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
                _roundSeconds[summary.Round] = Stopwatch.GetElapsedTime(started).TotalSeconds;
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
                    ? $"    global model accuracy on the Fashion-MNIST test set: {summary.Accuracy:F4} (specification {summary.SpecificationSha256[..16]}…, manifest {summary.ManifestSha256[..16]}…, audit receipt {summary.ManifestReceiptId[..12]}…)"
                    : "    round did not complete; the global model is unchanged");
            }
        }

        Step("stopping services; auditor verifies the broker's log offline");
        await federation.DisposeAsync().ConfigureAwait(false);
        AuditVerificationResult audit = AuditCommands.Verify(federation.BrokerDirectory, null);
        (int granted, List<(string Region, string Reason, string Detail)> deniedEntries, int entries) = ReadReleases(federation.BrokerDirectory);

        PrintTable(rounds, granted, deniedEntries, audit);
        if (_options.Json)
        {
            WriteJson(_options.JsonPath, rounds, granted, deniedEntries, audit);
            if (_options.JsonPath is { } jsonPath)
            {
                Say($"wrote {jsonPath}");
            }
        }

        bool ok = audit.IsValid && rounds.Count > 0 && rounds[^1].Completed;
        Say($"done in {_clock.Elapsed.TotalSeconds:F0} s; logs in {federation.Logs}");
        return ok ? 0 : 1;
    }

    private async Task<List<(string, string, string)>> ForbiddenAttemptsAsync(LocalFederation federation, CancellationToken cancellationToken)
    {
        var results = new List<(string, string, string)>();
        string home = _options.Regions[0];
        string other = _options.Regions[1];

        Step($"forbidden 1: an enclave whose code differs from the released image asks for {home}'s key");
        string tamperedDir = Path.Combine(federation.Work, "tampered-enclave");
        CopyDirectory(federation.ImageDirectory, tamperedDir);
        await using (FileStream dll = new(Path.Combine(tamperedDir, "Enclave.EnclaveApp.dll"), FileMode.Append))
        {
            dll.Write("modified enclave code"u8);
        }

        (Uri tamperedUrl, ServiceProcess tampered) = await federation.StartExtraHostAsync("tampered", home, tamperedDir, home, cancellationToken).ConfigureAwait(false);
        ProbeReleaseResponse first = await KeyCommands.ProbeAsync(tamperedUrl, federation.KeyIds[home], federation.OperatorTls, cancellationToken).ConfigureAwait(false);
        Say(first.Granted
            ? "    GRANTED (this must not happen)"
            : $"    denied: {first.Failure?.Code} (enclave measurement {first.Measurement[..16]}…, region {first.Region})");
        results.Add((home, "modified-code", first.Granted ? "Granted" : first.Failure?.Code ?? "Unknown"));
        await federation.StopAsync(tampered).ConfigureAwait(false);

        Step($"forbidden 2: the host enrolled in {other} asks for {home}'s key");
        ProbeReleaseResponse second = await KeyCommands.ProbeAsync(federation.HostUrls[other], federation.KeyIds[home], federation.OperatorTls, cancellationToken).ConfigureAwait(false);
        Say(second.Granted ? "    GRANTED (this must not happen)" : $"    denied: {second.Failure?.Code} (enclave attested in {second.Region})");
        results.Add((other, "cross-region", second.Granted ? "Granted" : second.Failure?.Code ?? "Unknown"));
        return results;
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

    private void WriteJson(string? path, List<RoundSummary> rounds, int granted, List<(string Region, string Reason, string Detail)> denied, AuditVerificationResult audit)
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
                ["seconds"] = _roundSeconds.TryGetValue(r.Round, out double seconds) ? Math.Round(seconds, 3) : null,
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
        if (path is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }

        RoundCommands.WriteJson(path, document);
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
            if (Path.GetFileName(file).StartsWith("Enclave.", StringComparison.Ordinal) || Path.GetFileName(file) == EnclaveConfiguration.FileName)
            {
                File.Copy(file, target);
            }
            else
            {
                File.CreateSymbolicLink(target, new FileInfo(file).LinkTarget ?? file);
            }
        }
    }

    private void Step(string text) => _out.WriteLine($"[{_clock.Elapsed.TotalSeconds,5:F1}s] {text}");

    private void Say(string text) => _out.WriteLine(text);
}
