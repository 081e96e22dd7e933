// The training plan (docs/formats.md section 14): what every round of a federation trains and how, as data. The
// model owner signs it; the enclave binds its hash into its attested runtime data, so the token carries it beside
// the measurement, release policies can pin it and the manifest records it.
//
//   {"type":"enclave-training-plan/1","id":"...","purpose":"...",
//    "model":{"kind":"mlp","hidden":128} | {"kind":"cnn"},
//    "optimizer":{"learningRate":0.05,"momentum":0.9},
//    "localEpochs":1,"batchSize":64,          (plain training only)
//    "rounds":10,
//    "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}
//                                         | {"kind":"adam","learningRate":0.01,"beta1":0.9,"beta2":0.99,"epsilon":0.001}},
//    "updateClipNorm":10,
//    "privacy":{"kind":"none"}
//            | {"kind":"record","samplingRate":0.01,"noiseMultiplier":1.1,"exampleClipNorm":1,"stepsPerRound":100,"delta":1e-5},
//    "seed":1}
//
// Parsing is strict (no other members, no duplicates, every bound checked) and the plan's bytes are its RFC 8785
// (JCS) serialisation, so two files that say the same thing have the same hash whatever their whitespace or member
// order, and the hash can be recomputed with any JCS library.
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.Privacy;

/// <summary>The model a plan trains.</summary>
public enum PlanModelKind
{
    /// <summary>784 → hidden → 10 with ReLU (docs/formats.md section 7).</summary>
    Mlp,

    /// <summary>The small convolutional network of docs/formats.md section 7.</summary>
    Cnn,
}

/// <summary>How the coordinator applies the average update (FedAvg is SGD with learning rate 1, momentum 0).</summary>
public enum ServerOptimizerKind
{
    Sgd,
    Adam,
}

/// <summary>A plan's model.</summary>
public sealed record PlanModel(PlanModelKind Kind, int Hidden);

/// <summary>The enclaves' local optimiser: SGD with momentum.</summary>
public sealed record PlanOptimizer(double LearningRate, double Momentum);

/// <summary>The coordinator's optimiser over the averaged update: FedAvg, FedAvgM (momentum) or FedAdam.</summary>
public sealed record ServerOptimizer(ServerOptimizerKind Kind, double LearningRate, double Momentum, double Beta1, double Beta2, double Epsilon);

/// <summary>The federated algorithm: FedProx's proximal term (0 = FedAvg's local objective) and the server optimiser.</summary>
public sealed record PlanAlgorithm(double ProximalMu, ServerOptimizer Server);

/// <summary>Record-level differential privacy by DP-SGD: Poisson sampling rate, noise multiplier, per-example clip,
/// steps per round and the δ at which ε is reported.</summary>
public sealed record RecordPrivacy(double SamplingRate, double NoiseMultiplier, double ExampleClipNorm, int StepsPerRound, double Delta);

/// <summary>A plan that does not have the shape or bounds of docs/formats.md section 14.</summary>
public sealed class TrainingPlanException(string message) : Exception(message);

/// <summary>A validated training plan and its canonical bytes.</summary>
public sealed class TrainingPlan
{
    public const string Type = "enclave-training-plan/1";
    public const int MaxLength = 16 * 1024;
    public const int MaxRounds = 10_000;
    public const int MaxEpochs = 100;
    public const int MaxBatchSize = 65_536;
    public const int MaxHidden = 4096;
    public const int MaxStepsPerRound = 1_000_000;

    private static readonly JsonDocumentOptions s_options = new()
    {
        AllowDuplicateProperties = false,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 8,
    };

    private readonly byte[] _canonical;

    private TrainingPlan(
        string id, string purpose, PlanModel model, PlanOptimizer optimizer, int localEpochs, int batchSize, int rounds,
        PlanAlgorithm algorithm, double updateClipNorm, RecordPrivacy? privacy, ulong seed)
    {
        Id = id;
        Purpose = purpose;
        Model = model;
        Optimizer = optimizer;
        LocalEpochs = localEpochs;
        BatchSize = batchSize;
        Rounds = rounds;
        Algorithm = algorithm;
        UpdateClipNorm = updateClipNorm;
        Privacy = privacy;
        Seed = seed;
        _canonical = JsonCanonical.Serialize(ToJson());
        Sha256 = SHA256.HashData(_canonical);
    }

    public string Id { get; }

    /// <summary>What the model is for, checked against a dataset's allowed purposes.</summary>
    public string Purpose { get; }

    public PlanModel Model { get; }

    public PlanOptimizer Optimizer { get; }

    /// <summary>Passes over the local examples per round (plain training; 0 under record-level privacy).</summary>
    public int LocalEpochs { get; }

    /// <summary>Examples per step (plain training; 0 under record-level privacy, whose batches are Poisson samples).</summary>
    public int BatchSize { get; }

    public int Rounds { get; }

    public PlanAlgorithm Algorithm { get; }

    /// <summary>L2 bound on each enclave's update, applied before quantisation.</summary>
    public double UpdateClipNorm { get; }

    /// <summary>Record-level DP-SGD settings; null when the plan trains without differential privacy.</summary>
    public RecordPrivacy? Privacy { get; }

    public ulong Seed { get; }

    /// <summary>SHA-256 of <see cref="CanonicalBytes"/>: the plan's identity in tokens, policies and manifests.</summary>
    public byte[] Sha256 { get; }

    public string Sha256Hex => Convert.ToHexStringLower(Sha256);

    /// <summary>The canonical UTF-8 JSON: RFC 8785 (JCS) of <see cref="ToJson"/>.</summary>
    public ReadOnlySpan<byte> CanonicalBytes => _canonical;

    /// <summary>What one round spends of a dataset's privacy budget; null when the plan has no differential privacy.</summary>
    public PrivacySpend? RoundSpend => Privacy is { } dp ? new PrivacySpend(dp.SamplingRate, dp.NoiseMultiplier, dp.StepsPerRound) : null;

    /// <summary>ε at the plan's δ after <paramref name="rounds"/> rounds on one dataset; null without differential privacy.</summary>
    public PrivacyGuarantee? EpsilonAfter(int rounds) => Privacy is { } dp && rounds >= 0
        ? RdpAccountant.Epsilon(dp.SamplingRate, dp.NoiseMultiplier, (long)dp.StepsPerRound * rounds, dp.Delta)
        : null;

    /// <summary>Parses and validates a plan.</summary>
    /// <exception cref="TrainingPlanException">The bytes are not a plan of section 14, naming the first problem.</exception>
    public static TrainingPlan Parse(ReadOnlySpan<byte> utf8Json)
    {
        if (utf8Json.Length > MaxLength)
        {
            throw new TrainingPlanException($"the plan is {utf8Json.Length} bytes, above {MaxLength}");
        }

        JsonObject root;
        try
        {
            root = JsonNode.Parse(utf8Json, documentOptions: s_options) as JsonObject
                ?? throw new TrainingPlanException("the plan is not a JSON object");
        }
        catch (JsonException ex)
        {
            throw new TrainingPlanException($"the plan is not valid JSON: {ex.Message}");
        }

        var r = new Reader(root, "plan");
        r.Only("type", "id", "purpose", "model", "optimizer", "localEpochs", "batchSize", "rounds", "algorithm", "updateClipNorm", "privacy", "seed");
        if (r.String("type") != Type)
        {
            throw new TrainingPlanException($"plan.type must be \"{Type}\"");
        }

        string id = r.Identifier("id");
        string purpose = r.Identifier("purpose");

        var m = r.Object("model");
        m.Only("kind", "hidden");
        PlanModel model = m.String("kind") switch
        {
            "mlp" => new PlanModel(PlanModelKind.Mlp, m.Int("hidden", 1, MaxHidden)),
            "cnn" => m.Has("hidden") ? throw new TrainingPlanException("plan.model.hidden is for the mlp only") : new PlanModel(PlanModelKind.Cnn, 0),
            string other => throw new TrainingPlanException($"plan.model.kind \"{other}\" is not mlp or cnn"),
        };

        var o = r.Object("optimizer");
        o.Only("learningRate", "momentum");
        var optimizer = new PlanOptimizer(o.Double("learningRate", 0, 10, minExclusive: true), o.Double("momentum", 0, 1, maxExclusive: true));

        var p = r.Object("privacy");
        RecordPrivacy? privacy;
        switch (p.String("kind"))
        {
            case "none":
                p.Only("kind");
                privacy = null;
                break;
            case "record":
                p.Only("kind", "samplingRate", "noiseMultiplier", "exampleClipNorm", "stepsPerRound", "delta");
                privacy = new RecordPrivacy(
                    p.Double("samplingRate", 0, 1, minExclusive: true),
                    p.Double("noiseMultiplier", 0, 1000, minExclusive: true),
                    p.Double("exampleClipNorm", 0, 1e6, minExclusive: true),
                    p.Int("stepsPerRound", 1, MaxStepsPerRound),
                    p.Double("delta", 0, 0.01, minExclusive: true, maxExclusive: false));
                break;
            default:
                throw new TrainingPlanException("plan.privacy.kind must be none or record");
        }

        int localEpochs = 0, batchSize = 0;
        if (privacy is null)
        {
            localEpochs = r.Int("localEpochs", 1, MaxEpochs);
            batchSize = r.Int("batchSize", 1, MaxBatchSize);
        }
        else if (r.Has("localEpochs") || r.Has("batchSize"))
        {
            throw new TrainingPlanException("under record-level privacy a round is privacy.stepsPerRound Poisson-sampled steps: plan.localEpochs and plan.batchSize must be left out");
        }

        int rounds = r.Int("rounds", 1, MaxRounds);

        var a = r.Object("algorithm");
        a.Only("proximalMu", "server");
        double mu = a.Double("proximalMu", 0, 1000);
        var s = a.Object("server");
        ServerOptimizer server = s.String("kind") switch
        {
            "sgd" => ServerSgd(s),
            "adam" => ServerAdam(s),
            string other => throw new TrainingPlanException($"plan.algorithm.server.kind \"{other}\" is not sgd or adam"),
        };

        double clip = r.Double("updateClipNorm", 0, 1e9, minExclusive: true);
        ulong seed = r.UInt53("seed");
        return new TrainingPlan(id, purpose, model, optimizer, localEpochs, batchSize, rounds, new PlanAlgorithm(mu, server), clip, privacy, seed);
    }

    /// <summary>The plan as a JSON object (members in the order of docs/formats.md section 14).</summary>
    public JsonObject ToJson()
    {
        JsonObject model = Model.Kind == PlanModelKind.Mlp
            ? new JsonObject { ["kind"] = "mlp", ["hidden"] = Model.Hidden }
            : new JsonObject { ["kind"] = "cnn" };
        ServerOptimizer s = Algorithm.Server;
        JsonObject server = s.Kind == ServerOptimizerKind.Sgd
            ? new JsonObject { ["kind"] = "sgd", ["learningRate"] = s.LearningRate, ["momentum"] = s.Momentum }
            : new JsonObject { ["kind"] = "adam", ["learningRate"] = s.LearningRate, ["beta1"] = s.Beta1, ["beta2"] = s.Beta2, ["epsilon"] = s.Epsilon };
        JsonObject privacy = Privacy is { } dp
            ? new JsonObject
            {
                ["kind"] = "record",
                ["samplingRate"] = dp.SamplingRate,
                ["noiseMultiplier"] = dp.NoiseMultiplier,
                ["exampleClipNorm"] = dp.ExampleClipNorm,
                ["stepsPerRound"] = dp.StepsPerRound,
                ["delta"] = dp.Delta,
            }
            : new JsonObject { ["kind"] = "none" };
        var json = new JsonObject
        {
            ["type"] = Type,
            ["id"] = Id,
            ["purpose"] = Purpose,
            ["model"] = model,
            ["optimizer"] = new JsonObject { ["learningRate"] = Optimizer.LearningRate, ["momentum"] = Optimizer.Momentum },
        };
        if (Privacy is null)
        {
            json["localEpochs"] = LocalEpochs;
            json["batchSize"] = BatchSize;
        }

        json["rounds"] = Rounds;
        json["algorithm"] = new JsonObject { ["proximalMu"] = Algorithm.ProximalMu, ["server"] = server };
        json["updateClipNorm"] = UpdateClipNorm;
        json["privacy"] = privacy;
        json["seed"] = Seed;
        return json;
    }

    private static ServerOptimizer ServerSgd(Reader s)
    {
        s.Only("kind", "learningRate", "momentum");
        return new ServerOptimizer(ServerOptimizerKind.Sgd, s.Double("learningRate", 0, 10, minExclusive: true), s.Double("momentum", 0, 1, maxExclusive: true), 0, 0, 0);
    }

    private static ServerOptimizer ServerAdam(Reader s)
    {
        s.Only("kind", "learningRate", "beta1", "beta2", "epsilon");
        return new ServerOptimizer(
            ServerOptimizerKind.Adam,
            s.Double("learningRate", 0, 10, minExclusive: true),
            0,
            s.Double("beta1", 0, 1, maxExclusive: true),
            s.Double("beta2", 0, 1, maxExclusive: true),
            s.Double("epsilon", 0, 1, minExclusive: true));
    }

    /// <summary>Typed reads of one JSON object's members, each error naming the member's path.</summary>
    private readonly struct Reader(JsonObject json, string path)
    {
        public bool Has(string name) => json.ContainsKey(name);

        public void Only(params string[] names)
        {
            foreach (KeyValuePair<string, JsonNode?> member in json)
            {
                if (Array.IndexOf(names, member.Key) < 0)
                {
                    throw new TrainingPlanException($"{path} has an unknown member \"{member.Key}\"");
                }
            }
        }

        public Reader Object(string name) => Get(name) is JsonObject o
            ? new Reader(o, $"{path}.{name}")
            : throw new TrainingPlanException($"{path}.{name} must be an object");

        public string String(string name) => Get(name) is JsonValue v && v.TryGetValue(out string? s)
            ? s
            : throw new TrainingPlanException($"{path}.{name} must be a string");

        /// <summary>1–64 characters of [a-z0-9._-], starting with a letter or digit.</summary>
        public string Identifier(string name)
        {
            string s = String(name);
            bool ok = s.Length is >= 1 and <= 64 && char.IsAsciiLetterLower(s[0]) | char.IsAsciiDigit(s[0])
                && s.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-');
            return ok ? s : throw new TrainingPlanException($"{path}.{name} must be 1-64 characters of a-z, 0-9, '.', '_', '-' starting with a letter or digit");
        }

        public int Int(string name, int min, int max)
        {
            JsonNode? node = Get(name);
            if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out int i) && i >= min && i <= max)
            {
                return i;
            }

            throw new TrainingPlanException($"{path}.{name} must be an integer in {min}..{max}");
        }

        /// <summary>An integer in 0..2^53 − 1, the integers a JSON number holds exactly everywhere (RFC 8785, I-JSON).</summary>
        public ulong UInt53(string name)
        {
            const ulong max = (1UL << 53) - 1;
            JsonNode? node = Get(name);
            return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out ulong u) && u <= max
                ? u
                : throw new TrainingPlanException($"{path}.{name} must be an integer in 0..{max}");
        }

        public double Double(string name, double min, double max, bool minExclusive = false, bool maxExclusive = false)
        {
            JsonNode? node = Get(name);
            if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) && double.IsFinite(d)
                && (minExclusive ? d > min : d >= min) && (maxExclusive ? d < max : d <= max))
            {
                return d;
            }

            string range = string.Create(CultureInfo.InvariantCulture, $"{(minExclusive ? "(" : "[")}{min}, {max}{(maxExclusive ? ")" : "]")}");
            throw new TrainingPlanException($"{path}.{name} must be a number in {range}");
        }

        private JsonNode? Get(string name) => json.TryGetPropertyValue(name, out JsonNode? node) && node is not null
            ? node
            : throw new TrainingPlanException($"{path}.{name} is missing");
    }
}
