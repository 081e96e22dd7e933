// `scripts/bench.sh secagg`: one staged secure-aggregation round with every client simulated in process, each
// through the public protocol API exactly as an enclave runs it. One client (index 1, a survivor) is timed
// through all its stages. The server is timed whole and accumulates masked inputs as they arrive (one vector held
// at a time). Clients drop after sharing their keys and before sending their masked input, the case that costs
// the server the most. Times are CPU seconds of the measuring thread (Linux; process CPU seconds elsewhere),
// since the machine may be shared; a full collection runs before each timed span so that no simulated client's
// garbage is collected inside it; clientThroughputRatio compares the client's masking stage (mask seeds, PRG,
// add, and signing the masked vector) with the raw rate, clientFullThroughputRatio all five stages of that
// client. The baselines run in the same process: AES-256-ECB (one persistent context) over prepared counter
// blocks plus a vectorised add, and the plaintext float32 upload.
using System.CommandLine;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.SecureAggregation.Staged;

namespace Enclave.Bench;

internal static class SecAggBench
{
    private const int RingBits = 32;

    public static Command Create()
    {
        var clients = new Option<int>("--clients") { Description = "cohort size", DefaultValueFactory = _ => 100 };
        var parameters = new Option<int>("--params") { Description = "model parameters (vector length)", DefaultValueFactory = _ => 100_000 };
        var dropout = new Option<double>("--dropout") { Description = "fraction of clients that drop after sharing keys", DefaultValueFactory = _ => 0.3 };
        var corruption = new Option<double>("--corruption") { Description = "corruption fraction the threshold withstands", DefaultValueFactory = _ => 0.05 };
        Option<string?> json = BenchJson.Option();
        var command = new Command("secagg", "Time one staged secure-aggregation round: one client, the whole server, bytes on the wire.")
        {
            clients, parameters, dropout, corruption, json,
        };
        command.SetAction(parse => BenchErrors.RunAsync(() =>
        {
            // Warm-up round so that compilation does not count against the measured one.
            Run(5, 4096, 0.2, 0, null);
            JsonObject result = Run(parse.GetValue(clients), parse.GetValue(parameters), parse.GetValue(dropout), parse.GetValue(corruption), BenchJson.Requested(parse, json) ? null : Console.Error);
            if (BenchJson.Requested(parse, json))
            {
                BenchJson.Write(parse, json, result);
            }
            else
            {
                Console.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            }

            return Task.FromResult(0);
        }));
        return command;
    }

    private static JsonObject Run(int n, int length, double dropout, double corruption, TextWriter? progress)
    {
        if (n < 3 || length < 1 || length > SecAggCodecLimits.MaxVectorLength)
        {
            throw new BenchException($"--clients must be at least 3 and --params within 1..{SecAggCodecLimits.MaxVectorLength}");
        }

        SecAggParameters p;
        RingQuantizer quantizer;
        try
        {
            p = SecAggParameters.Derive(n, dropout, corruption);
            quantizer = new RingQuantizer(1.0, 16, RingBits, n);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new BenchException(ex.Message);
        }

        var elapsed = Stopwatch.StartNew();
        void Progress(string stage) => progress?.WriteLine($"[{elapsed.Elapsed.TotalSeconds,7:F1} s] {stage}");
        Progress($"{n} clients, {length} parameters, degree {p.Degree}, threshold {p.Threshold}");
        var random = new Random(20261123);
        int dropCount = (int)Math.Round(dropout * n);
        var dropped = new HashSet<int>(Enumerable.Range(2, n - 1).OrderBy(_ => random.Next()).Take(dropCount));
        var survivors = new HashSet<int>(Enumerable.Range(1, n).Where(i => !dropped.Contains(i)));

        ECDsa[] signing = [.. Enumerable.Range(0, n).Select(_ => ECDsa.Create(ECCurve.NamedCurves.nistP256))];
        byte[] graphSeed = RandomNumberGenerator.GetBytes(32);
        var round = new SecAggRound("bench-1", p, graphSeed, length, RingBits, signing);
        var server = new SecAggServer(round);
        var clients = new SecAggClient[n];
        for (int i = 0; i < n; i++)
        {
            clients[i] = new SecAggClient(round, i + 1, signing[i]);
        }

        // The raw rate is measured just before and just after each measured part, over as many bytes as that part
        // expands (0.5 to 2 GiB, after a warm-up pass), since the speed of a shared machine varies over a run.
        double rawRateClient = 0;
        var clientTime = new CpuClock();
        var stageSeconds = new JsonObject();
        var serverTime = new Stopwatch();
        long clientBytes = 0;

        T Timed<T>(int client, Func<T> action)
            where T : SecAggMessage
        {
            if (client == 1)
            {
                double before = clientTime.CpuSeconds;
                GC.Collect();
                clientTime.Start();
                T message = action();
                clientTime.Stop();
                stageSeconds[message.Stage.ToString()] = Math.Round(clientTime.CpuSeconds - before, 4);
                clientBytes += SecAggCodec.Encode(message).Length;
                return message;
            }

            return action();
        }

        void Serve(Action action)
        {
            serverTime.Start();
            action();
            serverTime.Stop();
        }

        Progress("advertising keys");
        foreach (SecAggClient c in clients)
        {
            AdvertiseKeys ad = Timed(c.Self, c.Advertise);
            Serve(() => server.Receive(ad));
        }

        IReadOnlyList<KeyDirectory> directories = null!;
        Serve(() => directories = server.CloseAdvertiseKeys());
        Progress("sharing keys");
        foreach (KeyDirectory d in directories)
        {
            ShareKeys shares = Timed(d.Recipient, () => clients[d.Recipient - 1].HandleKeys(d));
            Serve(() => server.Receive(shares));
        }

        IReadOnlyList<ShareDelivery> deliveries = null!;
        Serve(() => deliveries = server.CloseShareKeys());
        directories = [];
        Progress("masking");
        var expected = new uint[length];
        var input = new uint[length];
        float[] timedValues = [.. Enumerable.Range(0, length).Select(_ => (float)((random.NextDouble() * 2) - 1))];
        long clipped = 0;
        int pairwise = 0; // masks the timed client applies with its neighbours, which all shared their keys
        foreach (ShareDelivery d in deliveries)
        {
            int u = d.Recipient;
            if (dropped.Contains(u))
            {
                continue;
            }

            if (u == 1)
            {
                clipped = quantizer.Quantize(timedValues, input, RandomNumberGenerator.GetBytes(32)).Clipped;
            }
            else
            {
                SyntheticInput(u, input);
            }

            MaskPrgAccumulate(expected, input);
            MaskedInput masked;
            if (u == 1)
            {
                pairwise = d.Shares.Count;
                long bytes = (d.Shares.Count + 1L) * length * 4;
                double before = RawPrgRate(length, bytes);
                masked = Timed(u, () => clients[0].HandleShares(d, input));
                rawRateClient = (before + RawPrgRate(length, bytes)) / 2;
            }
            else
            {
                masked = clients[u - 1].HandleShares(d, input);
            }

            Serve(() => server.Receive(masked));
        }

        deliveries = [];
        IReadOnlyList<SurvivorSet> sets = null!;
        Serve(() => sets = server.CloseMaskedInput());
        foreach (SurvivorSet s in sets)
        {
            ConsistencySignature signature = Timed(s.Recipient, () => clients[s.Recipient - 1].HandleSurvivors(s));
            Serve(() => server.Receive(signature));
        }

        IReadOnlyList<UnmaskRequest> requests = null!;
        Serve(() => requests = server.CloseConsistencyCheck());
        Progress("unmasking");
        long serverBytes = ExpectedRegeneration(round, survivors, dropped, length);
        double rawBefore = RawPrgRate(length, serverBytes);
        var responses = requests.Select(q => Timed(q.Recipient, () => clients[q.Recipient - 1].HandleUnmask(q))).ToList();
        var unmaskTime = new CpuClock();
        GC.Collect();
        unmaskTime.Start();
        SecAggResult result = null!;
        Serve(() =>
        {
            foreach (UnmaskResponse r in responses)
            {
                server.Receive(r);
            }

            result = server.CloseUnmask();
        });
        unmaskTime.Stop();
        Progress("done");
        double rawRateServer = (rawBefore + RawPrgRate(length, serverBytes)) / 2;

        double applyRate = MaskPrgRate(length);
        double clientSeconds = clientTime.CpuSeconds;
        double maskingSeconds = (double)stageSeconds[nameof(SecAggStage.MaskedInput)]!;
        double clientRate = (pairwise + 1.0) * length * 4 / maskingSeconds;
        double rawRate = rawRateServer;
        double serverUnmaskSeconds = unmaskTime.CpuSeconds;
        double prgBoundSeconds = result.RegeneratedBytes / rawRate;
        long plaintextBytes = length * 4L;
        foreach (SecAggClient c in clients)
        {
            c.Dispose();
        }

        foreach (ECDsa key in signing)
        {
            key.Dispose();
        }

        return new JsonObject
        {
            ["clientMaskSeconds"] = Math.Round(clientSeconds, 4),
            ["serverUnmaskSeconds"] = Math.Round(serverUnmaskSeconds, 4),
            ["bytesPerClient"] = clientBytes,
            ["exactSum"] = result.Sum.AsSpan().SequenceEqual(expected),
            ["clientThroughputRatio"] = Math.Round(clientRate / rawRateClient, 4),
            ["serverPrgRatio"] = Math.Round(serverUnmaskSeconds / prgBoundSeconds, 4),
            ["bytesRatio"] = Math.Round(clientBytes / (double)plaintextBytes, 4),
            ["clients"] = n,
            ["params"] = length,
            ["dropout"] = dropout,
            ["degree"] = p.Degree,
            ["threshold"] = p.Threshold,
            ["survivors"] = result.Survivors.Count,
            ["clipped"] = clipped,
            ["timedClientPairwiseMasks"] = pairwise,
            ["rawPrgAddBytesPerSecond"] = new JsonArray(Math.Round(rawRateClient), Math.Round(rawRateServer)),
            ["maskPrgApplyBytesPerSecond"] = Math.Round(applyRate),
            ["serverRegeneratedBytes"] = result.RegeneratedBytes,
            ["serverTotalSeconds"] = Math.Round(serverTime.Elapsed.TotalSeconds, 4),
            ["clientStageSeconds"] = stageSeconds,
            ["clientFullThroughputRatio"] = Math.Round((pairwise + 1.0) * length * 4 / clientSeconds / rawRateClient, 4),
            ["clientMaskWallSeconds"] = Math.Round(clientTime.WallSeconds, 4),
            ["serverUnmaskWallSeconds"] = Math.Round(unmaskTime.WallSeconds, 4),
            ["timesAre"] = "CPU seconds of the measuring thread (the machine is shared; wall-clock seconds alongside)",
            ["peakWorkingSetBytes"] = Process.GetCurrentProcess().PeakWorkingSet64,
        };
    }

    /// <summary>Bytes per second of AES-256-ECB over prepared counter blocks plus a vectorised add into a vector.</summary>
    /// <summary>Bytes per second of MaskPrg.Apply (the protocol's own mask expansion) with a fresh seed per vector.</summary>
    private static double MaskPrgRate(int length)
    {
        var target = new uint[length];
        using var prg = new MaskPrg();
        int passes = (int)Math.Max(2, (512L << 20) / (length * 4L));
        prg.Apply(target, RandomNumberGenerator.GetBytes(32), add: true);
        var watch = new CpuClock();
        watch.Start();
        for (int pass = 0; pass < passes; pass++)
        {
            prg.Apply(target, RandomNumberGenerator.GetBytes(32), add: (pass & 1) == 0);
        }

        watch.Stop();
        return passes * length * 4.0 / watch.CpuSeconds;
    }

    private static long ExpectedRegeneration(SecAggRound round, HashSet<int> survivors, HashSet<int> dropped, int length)
    {
        long masks = survivors.Count;
        foreach (int u in dropped)
        {
            masks += round.Graph.NeighboursOf(u).Count(survivors.Contains);
        }

        return masks * length * 4;
    }

    private static double RawPrgRate(int length, long totalBytes)
    {
        const int batch = 128 * 1024;
        var counters = new byte[batch];
        var keystream = new byte[batch];
        for (int b = 0; b < batch; b += 16)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(counters.AsSpan(b + 8), (ulong)(b / 16));
        }

        var target = new uint[Math.Max(length, batch / 4)];
        using var aes = Aes.Create();
        aes.Key = RandomNumberGenerator.GetBytes(32);
        aes.Mode = CipherMode.ECB;
        aes.Padding = PaddingMode.None;

        // The fastest raw AES this runtime offers: one persistent ECB context (Aes.EncryptEcb re-creates its
        // context on every call and is a fifth slower at this batch size).
        using ICryptoTransform encryptor = aes.CreateEncryptor();
        double best = 0;
        long bytesPerPass = target.Length * 4L;
        int passes = (int)Math.Max(1, Math.Clamp(totalBytes, 512L << 20, 2L << 30) / bytesPerPass);
        for (int trial = 0; trial < 2; trial++)
        {
            var watch = new CpuClock();
            watch.Start();
            for (int pass = 0; pass < passes; pass++)
            {
                for (int offset = 0; offset < target.Length; offset += batch / 4)
                {
                    int count = Math.Min(batch / 4, target.Length - offset);
                    int bytes = (count * 4 + 15) / 16 * 16;
                    encryptor.TransformBlock(counters, 0, bytes, keystream, 0);
                    MaskPrg.Combine(target.AsSpan(offset, count), System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(keystream.AsSpan(0, bytes))[..count], add: true);
                }
            }

            watch.Stop();

            // The first pass only warms the buffers.
            best = trial == 0 ? 0 : passes * bytesPerPass / watch.CpuSeconds;
        }

        return best;
    }

    /// <summary>A deterministic input in [-2^14, 2^14) for simulated client <paramref name="client"/>.</summary>
    private static void SyntheticInput(int client, uint[] output)
    {
        uint h = (uint)client * 0x85EBCA77u;
        for (int i = 0; i < output.Length; i++)
        {
            uint x = ((uint)i * 0x9E3779B1u) ^ h;
            x ^= x >> 15;
            x *= 0x2C1B3C6Du;
            output[i] = (x >> 17) - (1u << 14);
        }
    }

    private static void MaskPrgAccumulate(uint[] sum, uint[] input) => MaskPrg.Combine(sum, input, add: true);

    /// <summary>
    /// Accumulates the CPU time of the calling thread (and wall time) over start/stop spans. Thread time leaves out
    /// the runtime's background threads (background GC of the other simulated clients' garbage, tiered JIT), which
    /// process time would charge to whichever span they happen to overlap; elsewhere than Linux it falls back to
    /// process time.
    /// </summary>
    private sealed class CpuClock
    {
        private readonly Stopwatch _wall = new();
        private TimeSpan _cpu;
        private TimeSpan _startedAt;

        public double CpuSeconds => _cpu.TotalSeconds;

        public double WallSeconds => _wall.Elapsed.TotalSeconds;

        public void Start()
        {
            _startedAt = Now();
            _wall.Start();
        }

        public void Stop()
        {
            _wall.Stop();
            _cpu += Now() - _startedAt;
        }

        private static TimeSpan Now() => OperatingSystem.IsLinux() ? ThreadCpu.Time() : Environment.CpuUsage.TotalTime;
    }

    private static class SecAggCodecLimits
    {
        public const int MaxVectorLength = SecAggCodec.MaxVectorLength;
    }
}
