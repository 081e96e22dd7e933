// `scripts/bench.sh broker`: release throughput and latency of a key broker served in this process on
// loopback gRPC, with its real store (SQLite or PostgreSQL), audit log and token validation. N clients
// each run the enclave cycle (nonce, token, ReleaseKey) for --seconds, taking each nonce from the previous
// release's response (GetNonce only for the first, or for every one with --fetch-nonce); then the same clients call the
// no-op Ping RPC for a quarter of that time on the same server, so noopRatio = release throughput / no-op
// throughput compares the release path with the transport alone, measured side by side; and for another
// quarter the machine runs only the cryptography a release cannot do without (ReleaseCryptoBound), so
// cryptoBoundRatio = release throughput / that rate says how much of what this machine's cryptography allows
// the broker reaches.
//
// Two load shapes. Closed loop (the default): every client sends its next release as soon as the last one
// returned, so the broker is saturated and, by Little's law, the mean latency is clients / throughput: it
// measures capacity, and its latency is mostly queueing. Open loop (--rate R): releases are due at R per second
// in all, spread evenly over the clients, and each is timed from when it was due, not from when it was sent
// (a client held up by a slow answer does not hide the delay: no coordinated omission), so p50/p99 are the
// latency a broker offered R releases per second gives its callers.
using Enclave.Hosting;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Enclave.KeyBroker;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tokens;
using Enclave.KeyBroker.Transport;
using Enclave.Protocol.Broker;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.Bench;

internal static class BrokerBench
{
    private const string KeyName = "bench-key";

    public static Command Create()
    {
        var clients = new Option<int>("--clients") { Description = "concurrent clients", DefaultValueFactory = _ => 32 };
        var seconds = new Option<int>("--seconds") { Description = "length of the release phase", DefaultValueFactory = _ => 20 };
        var store = new Option<KeyBrokerStoreKind>("--store") { Description = "sqlite or postgres", DefaultValueFactory = _ => KeyBrokerStoreKind.Sqlite };
        var postgres = new Option<string>("--postgres") { Description = "PostgreSQL connection string for --store postgres" };
        var dataDir = new Option<string>("--data-dir") { Description = "broker data folder (default: a temporary folder, removed afterwards)" };
        Option<string?> json = BenchJson.Option();
        var fetchNonce = new Option<bool>("--fetch-nonce") { Description = "call GetNonce before every release instead of using the nonce the previous release returned" };
        var rate = new Option<double?>("--rate")
        {
            Description = "open loop: releases due per second in all, spread over the clients, each timed from when it was due (default: closed loop, each client sends when its last release returned)",
        };
        var listen = new Option<string>("--listen") { Description = "address the benchmarked broker listens on (its clients run in this process)", DefaultValueFactory = _ => ServiceHost.DefaultListenAddress };
        var enclaveKey = new Option<string>("--enclave-key") { Description = "the enclaves' encryption key: ec (P-256, ECDH-ES+A256KW) or rsa (RSA-2048, RSA-OAEP-256)", DefaultValueFactory = _ => "ec" };
        var command = new Command("broker", "Measure key releases per second and latency against the no-op RPC and the bare cryptography, side by side.")
        {
            clients, seconds, store, postgres, dataDir, json, fetchNonce, rate, enclaveKey, listen,
        };
        command.SetAction((parse, cancellationToken) => BenchErrors.RunAsync(async () =>
        {
            int clientCount = parse.GetValue(clients);
            int duration = parse.GetValue(seconds);
            if (clientCount is < 1 or > 1024)
            {
                throw new BenchException("--clients must be between 1 and 1024");
            }

            if (duration is < 1 or > 3600)
            {
                throw new BenchException("--seconds must be between 1 and 3600");
            }

            double? offered = parse.GetValue(rate);
            if (offered is { } r && (double.IsNaN(r) || r < 1 || r > 1_000_000))
            {
                throw new BenchException("--rate must be between 1 and 1000000 releases per second");
            }

            string keyKind = parse.GetValue(enclaveKey) ?? "ec";
            if (keyKind is not ("ec" or "rsa"))
            {
                throw new BenchException($"--enclave-key must be ec or rsa, not \"{keyKind}\"");
            }

            KeyBrokerStoreKind kind = parse.GetValue(store);
            var settings = new BenchSettings(clientCount, TimeSpan.FromSeconds(duration), kind,
                BenchErrors.StoreConnectionString(kind, parse.GetValue(postgres)), parse.GetValue(dataDir), parse.GetValue(fetchNonce))
            {
                Rate = offered,
                RsaEnclaveKey = keyKind == "rsa",
                ListenAddress = parse.GetValue(listen) ?? ServiceHost.DefaultListenAddress,
            };
            BenchResult result = await RunAsync(settings, cancellationToken).ConfigureAwait(false);
            if (BenchJson.Requested(parse, json))
            {
                BenchJson.Write(parse, json, result.ToJson());
            }
            else
            {
                string shape = result.OfferedPerSecond is { } due ? string.Create(CultureInfo.InvariantCulture, $"open loop at {due:F0}/s offered") : "closed loop";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{result.ReleasesPerSecond:F0} releases/s, {shape} (p50 {result.P50Ms:F2} ms, p99 {result.P99Ms:F2} ms, {result.Errors} errors); " +
                    $"no-op {result.NoopPerSecond:F0} calls/s, ratio {result.NoopRatio:F3}; cryptography alone {result.CryptoBoundPerSecond:F0}/s, " +
                    $"ratio {result.CryptoBoundRatio:F3}; audit log verified: {result.AuditVerified} ({result.AuditEntries} entries)"));
            }

            return result.AuditVerified ? 0 : 1;
        }));
        return command;
    }

    public static async Task<BenchResult> RunAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        string directory = settings.DataDirectory ?? Path.Combine(Path.GetTempPath(), "enclave-bench-" + Guid.NewGuid().ToString("N"));
        bool temporary = settings.DataDirectory is null;

        // On PostgreSQL the run gets a schema of its own, dropped afterwards: the audit log it verifies at the
        // end then holds only this run's entries, signed by this run's audit key.
        string? schema = null;
        string? connectionString = settings.ConnectionString;
        if (settings.Store == KeyBrokerStoreKind.Postgres && connectionString is not null)
        {
            schema = "bench_" + Guid.NewGuid().ToString("N");
            RunSql(connectionString, $"CREATE SCHEMA {schema}");
            connectionString = new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { SearchPath = schema }.ConnectionString;
        }

        try
        {
            using var load = new BrokerLoadClient("https://verifier.bench.invalid", settings.RsaEnclaveKey);
            var options = new KeyBrokerOptions
            {
                DataDirectory = Path.GetFullPath(directory),
                TrustedIssuers = [load.Issuer],
                SimulatedMode = true,
                Store = settings.Store,
                ConnectionString = connectionString,
            };
            await using WebApplication app = BrokerServer.Build(
                options, [], grpcPort: 0, httpPort: 0, settings.ListenAddress, logging: l => l.ClearProviders(),
                verifierKeys: new StaticVerifierKeySource(new Dictionary<string, Crypto.JwkSet> { [load.Issuer] = load.VerifierKeys }));
            await app.StartAsync(cancellationToken).ConfigureAwait(false);

            using var channel = GrpcChannel.ForAddress(app.Services.GetRequiredService<ServiceEndpoints>().Grpc.Url, new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
            });
            var broker = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
            await load.RegisterKeyAsync(broker, KeyName, cancellationToken).ConfigureAwait(false);

            TimeSpan warmup = await WarmUpAsync(broker, load, settings, cancellationToken).ConfigureAwait(false);
            TimeSpan pausedBefore = GC.GetTotalPauseDuration();
            int gen0Before = GC.CollectionCount(0);
            Phase releases = await ReleasePhaseAsync(
                broker, load, settings.Clients, settings.FetchNonce, settings.Duration, cancellationToken, settings.Rate).ConfigureAwait(false);
            double gcPause = (GC.GetTotalPauseDuration() - pausedBefore) / releases.Elapsed;
            int gen0 = GC.CollectionCount(0) - gen0Before;
            Phase noop = await NoopPhaseAsync(broker, settings.Clients, settings.Duration / 4, cancellationToken).ConfigureAwait(false);
            double cryptoRate = ReleaseCryptoBound.Measure(load, settings.Duration / 4, cancellationToken);

            KeyBrokerService service = app.Services.GetRequiredService<KeyBrokerService>();
            AuditVerificationResult audit = service.VerifyAudit();
            await app.StopAsync(cancellationToken).ConfigureAwait(false);

            double[] sorted = [.. releases.LatenciesMs.Order()];
            double releaseRate = releases.Completed / releases.Elapsed.TotalSeconds;
            double noopRate = noop.Completed / noop.Elapsed.TotalSeconds;
            return new BenchResult(
                releaseRate,
                Percentile(sorted, 0.50),
                Percentile(sorted, 0.99),
                releases.Errors,
                noopRate > 0 ? releaseRate / noopRate : 0,
                noopRate,
                releases.Completed,
                audit.IsValid,
                audit.VerifiedEntries,
                warmup.TotalSeconds,
                settings.FetchNonce)
            {
                OfferedPerSecond = settings.Rate,
                P999Ms = Percentile(sorted, 0.999),
                PacerLagP99Ms = releases.PacerLagP99Ms,
                CryptoBoundPerSecond = cryptoRate,
                CryptoBoundRatio = cryptoRate > 0 ? releaseRate / cryptoRate : 0,
                EnclaveKey = settings.RsaEnclaveKey ? "rsa" : "ec",
                GcPauseFraction = gcPause,
                Gen0Collections = gen0,
            };
        }
        finally
        {
            if (schema is not null)
            {
                RunSql(settings.ConnectionString!, $"DROP SCHEMA IF EXISTS {schema} CASCADE");
            }

            if (temporary)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                try
                {
                    Directory.Delete(directory, recursive: true);
                }
                catch (IOException)
                {
                    // Left for the system's temp cleaner.
                }
            }
        }
    }

    /// <summary>Runs releases until the JIT has settled, so the measurement sees steady-state code: at least
    /// <see cref="MinWarmup"/>, then one-second slices until a slice spends under 2 % of its wall time in the
    /// JIT (on two busy cores the background tier-1 compiler otherwise lags well into a short run), at most
    /// <see cref="MaxWarmup"/>. Returns how long it took.</summary>
    private static async Task<TimeSpan> WarmUpAsync(
        Protocol.Broker.KeyBroker.KeyBrokerClient broker, BrokerLoadClient load, BenchSettings settings, CancellationToken cancellationToken)
    {
        (int clients, bool fetchNonce) = (settings.Clients, settings.FetchNonce);
        var clock = Stopwatch.StartNew();
        await ReleasePhaseAsync(broker, load, clients, fetchNonce, settings.MinWarmup, cancellationToken).ConfigureAwait(false);
        while (clock.Elapsed < settings.MaxWarmup)
        {
            TimeSpan jitBefore = System.Runtime.JitInfo.GetCompilationTime();
            Phase slice = await ReleasePhaseAsync(broker, load, clients, fetchNonce, TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            if (System.Runtime.JitInfo.GetCompilationTime() - jitBefore < slice.Elapsed * 0.02)
            {
                break;
            }
        }

        return clock.Elapsed;
    }

    /// <summary>Releases from every client for <paramref name="duration"/>. Closed loop (<paramref name="rate"/> null):
    /// each client sends as soon as its last release returned, and the latency is the ReleaseKey call's. Open loop:
    /// release k of client c is due at (k * clients + c) / rate seconds after the start and is handed to the client
    /// when due by an <see cref="OpenLoopPacer"/>; a client still busy sends it as soon as it is free, and the latency
    /// runs from the due time to the answer. Either way the phase lasts until the last release sent in it was answered.</summary>
    private static async Task<Phase> ReleasePhaseAsync(
        Protocol.Broker.KeyBroker.KeyBrokerClient broker, BrokerLoadClient load, int clients, bool fetchNonce, TimeSpan duration,
        CancellationToken cancellationToken, double? rate = null)
    {
        var latencies = new List<double>[clients];
        long completed = 0;
        long errors = 0;
        var clock = Stopwatch.StartNew();
        using OpenLoopPacer? pacer = rate is { } r ? new OpenLoopPacer(clients, r, duration, clock) : null;
        pacer?.Start();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var own = latencies[c] = new List<double>(4096);
            string? nonce = null;
            while (!cancellationToken.IsCancellationRequested)
            {
                TimeSpan? due = null;
                if (pacer is null)
                {
                    if (clock.Elapsed >= duration)
                    {
                        break;
                    }
                }
                else if ((due = await pacer.NextAsync(c, cancellationToken).ConfigureAwait(false)) is null)
                {
                    break;
                }

                try
                {
                    ReleaseAttempt attempt = await load.ReleaseAsync(broker, load.KeyId(KeyName), nonce, cancellationToken).ConfigureAwait(false);
                    TimeSpan latency = due is { } since ? clock.Elapsed - since : attempt.Latency;
                    nonce = fetchNonce ? null : attempt.NextNonce;
                    if (attempt.ReceiptId is null)
                    {
                        Interlocked.Increment(ref errors);
                        NoteError("release denied");
                        continue;
                    }

                    own.Add(latency.TotalMilliseconds);
                    Interlocked.Increment(ref completed);
                }
                catch (Grpc.Core.RpcException e)
                {
                    Interlocked.Increment(ref errors);
                    NoteError($"{e.StatusCode}: {e.Status.Detail}");
                }
            }
        }, cancellationToken))).ConfigureAwait(false);
        pacer?.Join();
        return new Phase(clock.Elapsed, completed, errors, latencies.SelectMany(l => l).ToList())
        {
            PacerLagP99Ms = pacer?.LagPercentile(0.99),
        };
    }

    private static async Task<Phase> NoopPhaseAsync(Protocol.Broker.KeyBroker.KeyBrokerClient broker, int clients, TimeSpan duration, CancellationToken cancellationToken)
    {
        long completed = 0;
        long errors = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await broker.PingAsync(new PingRequest(), cancellationToken: cancellationToken);
                    Interlocked.Increment(ref completed);
                }
                catch (Grpc.Core.RpcException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        }, cancellationToken))).ConfigureAwait(false);
        return new Phase(clock.Elapsed, completed, errors, []);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> s_errorKinds = new(StringComparer.Ordinal);

    /// <summary>Reports each distinct error once on stderr, so a run with errors says what they were.</summary>
    private static void NoteError(string kind)
    {
        if (s_errorKinds.TryAdd(kind, 1) && s_errorKinds.Count <= 10)
        {
            Console.Error.WriteLine($"bench: error: {kind}");
        }
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    private sealed record Phase(TimeSpan Elapsed, long Completed, long Errors, List<double> LatenciesMs)
    {
        /// <summary>Open loop: the 99th percentile of how late the pacer handed releases out.</summary>
        public double? PacerLagP99Ms { get; init; }
    }

    private static void RunSql(string connectionString, string sql)
    {
        using var connection = new Npgsql.NpgsqlConnection(connectionString);
        connection.Open();
        using Npgsql.NpgsqlCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}

/// <summary>What `scripts/bench.sh broker` runs.</summary>
internal sealed record BenchSettings(int Clients, TimeSpan Duration, KeyBrokerStoreKind Store, string? ConnectionString, string? DataDirectory, bool FetchNonce = false)
{
    /// <summary>Open loop at this many releases due per second; null for the closed loop.</summary>
    public double? Rate { get; init; }

    /// <summary>The enclaves use RSA-2048 encryption keys (RSA-OAEP-256) rather than P-256 (ECDH-ES+A256KW).</summary>
    public bool RsaEnclaveKey { get; init; }

    /// <summary>Where the benchmarked broker listens (cleartext: loopback only).</summary>
    public string ListenAddress { get; init; } = ServiceHost.DefaultListenAddress;

    /// <summary>The warm-up runs at least this long, then until the JIT has settled, at most <see cref="MaxWarmup"/>.</summary>
    public TimeSpan MinWarmup { get; init; } = TimeSpan.FromSeconds(3);

    public TimeSpan MaxWarmup { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>Measured numbers of one bench run.</summary>
internal sealed record BenchResult(
    double ReleasesPerSecond,
    double P50Ms,
    double P99Ms,
    long Errors,
    double NoopRatio,
    double NoopPerSecond,
    long Releases,
    bool AuditVerified,
    long AuditEntries,
    double WarmupSeconds,
    bool FetchNonce)
{
    /// <summary>Releases due per second in an open-loop run; null for the closed loop.</summary>
    public double? OfferedPerSecond { get; init; }

    /// <summary>The 99.9th percentile latency.</summary>
    public double P999Ms { get; init; }

    /// <summary>Open loop: the 99th percentile of how late the load generator handed releases to its clients, which
    /// is part of every latency measured (they run from the due time); null for the closed loop.</summary>
    public double? PacerLagP99Ms { get; init; }

    /// <summary>Units of a release's indispensable cryptography per second on all cores (ReleaseCryptoBound).</summary>
    public double CryptoBoundPerSecond { get; init; }

    /// <summary>Release throughput over <see cref="CryptoBoundPerSecond"/>.</summary>
    public double CryptoBoundRatio { get; init; }

    public string EnclaveKey { get; init; } = "ec";

    /// <summary>Share of the release phase's wall time the runtime spent with threads paused for garbage collection.</summary>
    public double GcPauseFraction { get; init; }

    public int Gen0Collections { get; init; }

    public JsonObject ToJson() => new()
    {
        ["releasesPerSecond"] = Math.Round(ReleasesPerSecond, 1),
        ["p50Ms"] = Math.Round(P50Ms, 3),
        ["p99Ms"] = Math.Round(P99Ms, 3),
        ["p999Ms"] = Math.Round(P999Ms, 3),
        ["errors"] = Errors,
        ["noopRatio"] = Math.Round(NoopRatio, 4),
        ["noopPerSecond"] = Math.Round(NoopPerSecond, 1),
        ["releases"] = Releases,
        ["auditVerified"] = AuditVerified,
        ["auditEntries"] = AuditEntries,
        ["warmupSeconds"] = Math.Round(WarmupSeconds, 1),
        ["nonces"] = FetchNonce ? "GetNonce per release" : "chained from the previous release",
        ["load"] = OfferedPerSecond is null ? "closed loop" : "open loop",
        ["offeredPerSecond"] = OfferedPerSecond is { } offered ? Math.Round(offered, 1) : null,
        ["pacerLagP99Ms"] = PacerLagP99Ms is { } lag ? Math.Round(lag, 3) : null,
        ["cryptoBoundPerSecond"] = Math.Round(CryptoBoundPerSecond, 1),
        ["cryptoBoundRatio"] = Math.Round(CryptoBoundRatio, 4),
        ["enclaveKey"] = EnclaveKey,
        ["gcPauseFraction"] = Math.Round(GcPauseFraction, 4),
        ["gen0Collections"] = Gen0Collections,
    };
}
