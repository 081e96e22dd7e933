// `enclave plan hash | show | sign`: the training plan (docs/formats.md section 14) for model owners, who sign it,
// and data owners, who read it and pin its hash in their release policies.
using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.Privacy;

namespace Enclave.Cli.Commands;

internal static class PlanCommands
{
    public static Command Create()
    {
        var hashFile = new Argument<string>("PLAN") { Description = "plan JSON or signed plan (.jws)" };
        var hash = new Command("hash", "Print the plan's SHA-256, the value a release policy pins as x-ms-runtime.plan.") { hashFile };
        hash.SetAction(parse => CliErrors.RunAsync(() =>
        {
            Console.WriteLine(ReadAny(parse.GetValue(hashFile)!).Sha256Hex);
            return Task.FromResult(0);
        }));

        var showFile = new Argument<string>("PLAN") { Description = "plan JSON or signed plan (.jws)" };
        var ownerKeys = new Option<string[]>("--owner-key") { AllowMultipleArgumentsPerToken = true, Description = "public JWK or JWKS file of the model owner; a signed plan's signature is checked against it (repeat)" };
        Option<string?> json = RoundCommands.JsonOption();
        var show = new Command("show", "Show what a plan trains, its hash, its signer and, under differential privacy, the ε its rounds spend.")
        {
            showFile, ownerKeys, json,
        };
        show.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string path = parse.GetValue(showFile)!;
            (TrainingPlan plan, string? signer, bool? verified) = Inspect(path, parse.GetValue(ownerKeys) ?? []);
            JsonObject document = Describe(plan, signer, verified);
            if (parse.GetResult(json) is not null)
            {
                RoundCommands.WriteJson(parse.GetValue(json), document);
            }
            else
            {
                Console.WriteLine(ToText(plan, signer, verified));
            }

            // A signature that was checked and failed is a rejection.
            return Task.FromResult(verified == false ? 1 : 0);
        }));

        var signFile = new Argument<string>("PLAN") { Description = "plan JSON to sign" };
        var key = new Option<string>("--key") { Required = true, Description = "the model owner's private key (PKCS#8 PEM, P-256)" };
        var output = new Option<string>("--out") { Required = true, Description = "signed plan file to write (compact JWS)" };
        var sign = new Command("sign", "Sign a plan as its model owner (ES256 over its canonical bytes) and print its hash.") { signFile, key, output };
        sign.SetAction(parse => CliErrors.RunAsync(() =>
        {
            TrainingPlan plan = ParseJson(parse.GetValue(signFile)!);
            using ECDsa owner = KeyFiles.ReadSigningKey(parse.GetValue(key)!);
            if (owner.KeySize != 256)
            {
                throw new CliException($"{parse.GetValue(key)} is a {owner.KeySize}-bit key; plans are signed with P-256");
            }

            SignedPlan signed = SignedPlan.Sign(plan, owner);
            RoundCommands.WriteFileAtomically(parse.GetValue(output)!, signed.Compact + "\n", "--out");
            Console.WriteLine(plan.Sha256Hex);
            return Task.FromResult(0);
        }));

        return new Command("plan", "Training plans: what every round trains and how, signed by the model owner.") { hash, show, sign };
    }

    /// <summary>Reads a signed plan and checks it against the model owner's public key.</summary>
    public static (SignedPlan Plan, Jwk Owner) LoadSigned(string planPath, string ownerKeyPath)
    {
        Jwk owner = KeyFiles.ReadPublicJwk(ownerKeyPath);
        string text = Encoding.UTF8.GetString(ReadBounded(planPath));
        try
        {
            string thumbprint = owner.ComputeThumbprint();
            return (SignedPlan.Verify(text, kid => kid == thumbprint ? owner : null), owner);
        }
        catch (TrainingPlanException ex)
        {
            throw new CliException($"{planPath}: {ex.Message} (is it signed by {ownerKeyPath}?)");
        }
    }

    /// <summary>Reads a plan in either form, without checking a signature.</summary>
    public static TrainingPlan ReadAny(string path)
    {
        byte[] bytes = ReadBounded(path);
        try
        {
            return SignedPlan.ReadEither(bytes);
        }
        catch (TrainingPlanException ex)
        {
            throw new CliException($"{path}: {ex.Message}");
        }
    }

    private static TrainingPlan ParseJson(string path)
    {
        byte[] bytes = ReadBounded(path);
        try
        {
            return TrainingPlan.Parse(bytes);
        }
        catch (TrainingPlanException ex)
        {
            throw new CliException($"{path}: {ex.Message}");
        }
    }

    private static (TrainingPlan Plan, string? Signer, bool? Verified) Inspect(string path, string[] ownerKeyFiles)
    {
        TrainingPlan plan = ReadAny(path);
        string text = Encoding.UTF8.GetString(ReadBounded(path)).Trim();
        if (text.StartsWith('{'))
        {
            return (plan, null, null);
        }

        string? signer = SignedPlan.ReadUnverifiedSigner(text);
        if (ownerKeyFiles.Length == 0)
        {
            return (plan, signer, null);
        }

        JwkSet owners = KeyFiles.ReadPublicKeySets(ownerKeyFiles, "--owner-key");
        try
        {
            SignedPlan signed = SignedPlan.Verify(text, kid => owners.Find(kid));
            return (signed.Plan, signed.Signer, true);
        }
        catch (TrainingPlanException ex)
        {
            Console.Error.WriteLine($"enclave: {path}: {ex.Message}");
            return (plan, signer, false);
        }
    }

    private static JsonObject Describe(TrainingPlan plan, string? signer, bool? verified)
    {
        var document = new JsonObject
        {
            ["sha256"] = plan.Sha256Hex,
            ["signer"] = signer,
            ["signatureVerified"] = verified,
            ["plan"] = plan.ToJson(),
        };
        if (plan.EpsilonAfter(plan.Rounds) is { } all && plan.EpsilonAfter(1) is { } one)
        {
            document["privacy"] = new JsonObject
            {
                ["delta"] = plan.Privacy!.Delta,
                ["epsilonPerRound"] = Math.Round(one.Epsilon, 6),
                ["epsilonAllRounds"] = Math.Round(all.Epsilon, 6),
                ["rounds"] = plan.Rounds,
            };
        }

        return document;
    }

    private static string ToText(TrainingPlan plan, string? signer, bool? verified)
    {
        var text = new StringBuilder();
        void Line(string name, string value) => text.Append(CultureInfo.InvariantCulture, $"{name,-16} {value}\n");
        Line("plan", $"{plan.Id} (purpose {plan.Purpose})");
        Line("sha256", plan.Sha256Hex);
        Line("signer", signer is null ? "unsigned" : $"{signer} ({verified switch { true => "signature verified", false => "SIGNATURE DOES NOT VERIFY", null => "signature not checked: pass --owner-key" }})");
        Line("model", plan.Model.Kind == PlanModelKind.Mlp ? $"mlp, hidden {plan.Model.Hidden}" : "cnn");
        Line("rounds", plan.Rounds.ToString(CultureInfo.InvariantCulture));
        Line("local training", plan.Privacy is null
            ? string.Create(CultureInfo.InvariantCulture, $"{plan.LocalEpochs} epoch(s), batch {plan.BatchSize}, SGD lr {plan.Optimizer.LearningRate} momentum {plan.Optimizer.Momentum}")
            : string.Create(CultureInfo.InvariantCulture, $"{plan.Privacy.StepsPerRound} DP-SGD steps per round, SGD lr {plan.Optimizer.LearningRate} momentum {plan.Optimizer.Momentum}"));
        ServerOptimizer server = plan.Algorithm.Server;
        string algorithm = (plan.Algorithm.ProximalMu > 0 ? "FedProx" : "FedAvg") + (server.Kind == ServerOptimizerKind.Adam
            ? string.Create(CultureInfo.InvariantCulture, $", server Adam lr {server.LearningRate}")
            : server.Momentum > 0 ? string.Create(CultureInfo.InvariantCulture, $", server momentum {server.Momentum} lr {server.LearningRate}") : "");
        Line("algorithm", plan.Algorithm.ProximalMu > 0 ? string.Create(CultureInfo.InvariantCulture, $"{algorithm} (mu {plan.Algorithm.ProximalMu})") : algorithm);
        Line("update bound", string.Create(CultureInfo.InvariantCulture, $"L2 norm {plan.UpdateClipNorm} per enclave per round"));
        if (plan.Privacy is { } dp)
        {
            PrivacyGuarantee one = plan.EpsilonAfter(1)!.Value;
            PrivacyGuarantee all = plan.EpsilonAfter(plan.Rounds)!.Value;
            Line("privacy", string.Create(CultureInfo.InvariantCulture,
                $"record-level DP-SGD: q {dp.SamplingRate}, noise multiplier {dp.NoiseMultiplier}, example clip {dp.ExampleClipNorm}"));
            Line("epsilon", string.Create(CultureInfo.InvariantCulture,
                $"{one.Epsilon:F3} per round, {all.Epsilon:F3} after {plan.Rounds} rounds, at delta {dp.Delta:G3}, per dataset"));
        }
        else
        {
            Line("privacy", "none (no differential privacy)");
        }

        return text.ToString().TrimEnd('\n');
    }

    private static byte[] ReadBounded(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"plan file {path} does not exist");
        }

        if (new FileInfo(path).Length > Jws.MaxTokenLength)
        {
            throw new CliException($"{path} is larger than a plan can be ({Jws.MaxTokenLength} bytes)");
        }

        return File.ReadAllBytes(path);
    }
}
