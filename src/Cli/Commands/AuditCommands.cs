using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Transport;

namespace Enclave.Cli.Commands;

/// <summary>The auditor's verbs: verify the broker's Merkle log from a copy of its store, produce inclusion
/// and consistency proofs, and check a proof offline with only the published audit key.</summary>
internal static class AuditCommands
{
    public static Command Create()
    {
        var audit = new Command("audit", "Audit the key broker's log (an RFC 6962 Merkle tree with signed tree heads).");
        audit.Subcommands.Add(CreateVerify());
        audit.Subcommands.Add(CreateProve());
        audit.Subcommands.Add(CreateConsistency());
        audit.Subcommands.Add(CreateCheckProof());
        return audit;
    }

    public static AuditVerificationResult Verify(string? storeDirectory, string? auditKeyPath, string? knownHeadPath = null, string? postgres = null) =>
        VerifyWithPrivacy(storeDirectory, auditKeyPath, knownHeadPath, postgres).Log;

    /// <summary>Verifies the log and, when it holds, replays the privacy budgets its grants spent (docs/formats.md
    /// section 9): per budgeted key, the ε of the RDP its grants sum to, and every grant whose record disagrees.</summary>
    public static (AuditVerificationResult Log, PrivacyLedgerReplay? Privacy, Dictionary<string, (double Epsilon, double Delta, double Max)> Budgets) VerifyWithPrivacy(
        string? storeDirectory, string? auditKeyPath, string? knownHeadPath = null, string? postgres = null)
    {
        // A missing store is named before its key: the key file lives in the store folder by default.
        using IKeyBrokerStore store = OpenStore(storeDirectory, postgres);
        Jwk key = ReadAuditKey(storeDirectory, auditKeyPath);
        SignedTreeHead? known = knownHeadPath is null ? null : ReadKnownHead(knownHeadPath, key);
        AuditVerificationResult result = AuditLog.Verify(store, key, known);
        var budgets = new Dictionary<string, (double, double, double)>(StringComparer.Ordinal);
        if (!result.IsValid)
        {
            return (result, null, budgets);
        }

        List<AuditEntry> entries = [.. store.ReadAuditEntries().Select(r => new AuditEntry(r.Sequence, r.Time, r.Kind, r.Body, Convert.ToHexStringLower(r.EntryHash), Convert.ToHexStringLower(r.PreviousHash)))];
        PrivacyLedgerReplay replay = PrivacyLedger.Replay(entries);
        foreach (AuditEntry entry in entries.Where(e => e.Kind == nameof(AuditEntryKind.ReleaseGranted)))
        {
            // The policy's δ and maximum as the key's latest grant recorded them.
            if (JsonNode.Parse(entry.Body) is JsonObject body && body["privacy"] is JsonObject p && body["key"]?.GetValue<string>() is { } name
                && replay.Spent.TryGetValue(name, out double[]? rdp) && p["delta"]?.GetValue<double>() is double delta && p["maxEpsilon"]?.GetValue<double>() is double max)
            {
                budgets[name] = (PrivacyLedger.Epsilon(rdp, delta), delta, max);
            }
        }

        return (result, replay, budgets);
    }

    private static Command CreateVerify()
    {
        var store = StoreOption();
        var postgres = PostgresOption();
        var auditKey = AuditKeyOption();
        var knownHead = new Option<string>("--known-head") { Description = "a signed tree head (or proof) kept from an earlier audit: the log must still contain it" };
        Option<string?> json = RoundCommands.JsonOption();
        var verify = new Command("verify", "Recompute every leaf hash, link and Merkle root from the stored rows and check the signed tree heads; names the first bad entry.") { store, postgres, auditKey, knownHead, json };
        verify.SetAction(parse => CliErrors.RunAsync(() =>
        {
            (AuditVerificationResult result, PrivacyLedgerReplay? privacy, Dictionary<string, (double Epsilon, double Delta, double Max)> budgets) =
                VerifyWithPrivacy(parse.GetValue(store), parse.GetValue(auditKey), parse.GetValue(knownHead), parse.GetValue(postgres));
            bool privacyHolds = privacy is null || privacy.Faults.Count == 0;
            if (parse.GetResult(json) is not null)
            {
                var budgetJson = new JsonObject();
                foreach ((string name, (double epsilon, double delta, double max)) in budgets.OrderBy(b => b.Key, StringComparer.Ordinal))
                {
                    budgetJson[name] = new JsonObject { ["epsilonSpent"] = epsilon, ["delta"] = delta, ["maxEpsilon"] = max };
                }

                RoundCommands.WriteJson(parse.GetValue(json), new JsonObject
                {
                    ["verified"] = result.IsValid && privacyHolds,
                    ["privacyBudgets"] = budgetJson,
                    ["privacyFaults"] = new JsonArray([.. (privacy?.Faults ?? []).Select(f => (JsonNode)f)]),
                    ["entries"] = result.VerifiedEntries,
                    ["rootHash"] = result.RootHash is null ? null : Convert.ToHexStringLower(result.RootHash),
                    ["firstBadSequence"] = result.FirstBadSequence,
                    ["fault"] = result.Fault?.ToString(),
                    ["detail"] = result.Detail,
                });
            }
            else if (result.IsValid)
            {
                Console.WriteLine($"audit log verified: {result.VerifiedEntries} entries, Merkle root {Convert.ToHexStringLower(result.RootHash!)} matches the signed tree head");
                foreach ((string name, (double epsilon, double delta, double max)) in budgets.OrderBy(b => b.Key, StringComparer.Ordinal))
                {
                    Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"privacy budget {name}: ε {epsilon:F4} of {max} spent at δ {delta:G3} (replayed from the log's grants)"));
                }

                foreach (string fault in privacy?.Faults ?? [])
                {
                    Console.WriteLine($"privacy ledger INVALID: {fault}");
                }
            }
            else
            {
                string where = result.FirstBadSequence is long first ? $"first bad entry {first}" : "head record";
                Console.WriteLine($"audit log INVALID ({where}, {result.Fault}): {result.Detail}");
            }

            return Task.FromResult(result.IsValid && privacyHolds ? 0 : 1);
        }));
        return verify;
    }

    private static Command CreateProve()
    {
        var store = StoreOption();
        var postgres = PostgresOption();
        var auditKey = AuditKeyOption();
        var entry = new Argument<long>("ENTRY") { Description = "sequence number of the entry (1-based)" };
        var size = new Option<long?>("--size") { Description = "tree size to prove against (default: the current signed tree head)" };
        var json = new Option<bool>("--json") { Description = "print only the proof JSON" };
        var output = new Option<string>("--out") { Description = "also write the proof JSON to this file" };
        var prove = new Command("prove", "Print a self-contained inclusion proof of an entry: leaf, audit path, signed tree head.") { entry, store, postgres, auditKey, size, json, output };
        prove.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string? directory = parse.GetValue(store);
            using IKeyBrokerStore sqlite = OpenStore(directory, parse.GetValue(postgres));
            Jwk key = ReadAuditKey(directory, parse.GetValue(auditKey));
            AuditInclusionProof proof = Run(() => AuditLog.ProveInclusion(sqlite, key, parse.GetValue(entry), parse.GetValue(size)));
            string text = proof.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
            if (parse.GetValue(output) is { } path)
            {
                File.WriteAllText(path, text);
            }

            if (!parse.GetValue(json))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"entry {proof.Entry.Sequence} ({proof.Entry.Kind}) is leaf {proof.LeafIndex} of the tree of size {proof.TreeHead.TreeSize}, root {Convert.ToHexStringLower(proof.TreeHead.RootHash)}"));
            }

            Console.WriteLine(text);
            return Task.FromResult(0);
        }));
        return prove;
    }

    private static Command CreateConsistency()
    {
        var store = StoreOption();
        var postgres = PostgresOption();
        var auditKey = AuditKeyOption();
        var from = new Option<long>("--from") { Required = true, Description = "the older tree size" };
        var to = new Option<long?>("--to") { Description = "the newer tree size (default: the current size)" };
        var output = new Option<string>("--out") { Description = "also write the proof JSON to this file" };
        var consistency = new Command("consistency", "Print a consistency proof that the tree of size --from is a prefix of the tree of size --to.") { store, postgres, auditKey, from, to, output };
        consistency.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string? directory = parse.GetValue(store);
            using IKeyBrokerStore sqlite = OpenStore(directory, parse.GetValue(postgres));
            Jwk key = ReadAuditKey(directory, parse.GetValue(auditKey));
            long toSize = parse.GetValue(to) ?? sqlite.GetAuditHead()?.Size ?? 0;
            AuditConsistencyProof proof = Run(() => AuditLog.ProveConsistency(sqlite, key, parse.GetValue(from), toSize));
            AuditConsistencyProof.Check(proof.ToJson().ToJsonString(), key);
            string text = proof.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
            if (parse.GetValue(output) is { } path)
            {
                File.WriteAllText(path, text);
            }

            Console.WriteLine(text);
            return Task.FromResult(0);
        }));
        return consistency;
    }

    private static Command CreateCheckProof()
    {
        var file = new Argument<string>("FILE") { Description = "an inclusion or consistency proof (JSON)" };
        var key = new Option<string>("--key") { Required = true, Description = "the broker's published audit public key (audit.jwk)" };
        var check = new Command("check-proof", "Check an inclusion or consistency proof offline with only the published audit key.") { file, key };
        check.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string path = parse.GetValue(file)!;
            if (!File.Exists(path))
            {
                throw new CliException($"proof file {path} does not exist");
            }

            string json = File.ReadAllText(path);
            Jwk auditKey = KeyFiles.ReadPublicJwk(parse.GetValue(key)!);
            try
            {
                if (JsonNode.Parse(json) is JsonObject obj && obj.ContainsKey("fromSize"))
                {
                    AuditConsistencyProof proof = AuditConsistencyProof.Check(json, auditKey);
                    Console.WriteLine($"consistency proof valid: the tree of size {proof.From.TreeSize} is a prefix of the tree of size {proof.To.TreeSize}");
                }
                else
                {
                    AuditInclusionProof proof = AuditInclusionProof.Check(json, auditKey);
                    Console.WriteLine($"inclusion proof valid: entry {proof.Entry.Sequence} ({proof.Entry.Kind}, {proof.Entry.Time:O}) is in the signed tree of size {proof.TreeHead.TreeSize}");
                }
            }
            catch (Exception e) when (e is AuditProofException or System.Text.Json.JsonException)
            {
                Console.WriteLine($"proof INVALID: {e.Message}");
                return Task.FromResult(1);
            }

            return Task.FromResult(0);
        }));
        return check;
    }

    private static Option<string> StoreOption() =>
        new("--store") { Description = "the broker's data folder (or a copy of it); holds the SQLite store and audit.jwk" };

    private static Option<string> PostgresOption() =>
        new("--postgres") { Description = "read the log from this PostgreSQL database instead of the folder's SQLite store" };

    private static Option<string> AuditKeyOption() =>
        new("--audit-key") { Description = "the broker's audit public JWK an auditor kept (default: audit.jwk in the store folder)" };

    private static Jwk ReadAuditKey(string? storeDirectory, string? auditKeyPath) =>
        KeyFiles.ReadPublicJwk(auditKeyPath
            ?? (storeDirectory is null
                ? throw new CliException("give --audit-key or --store (the folder with audit.jwk)")
                : Path.Combine(storeDirectory, BrokerServer.AuditPublicKeyFileName)));

    private static IKeyBrokerStore OpenStore(string? storeDirectory, string? postgres)
    {
        if (postgres is not null)
        {
            return new PostgresKeyBrokerStore(postgres);
        }

        if (storeDirectory is null)
        {
            throw new CliException("give --store (the broker's data folder) or --postgres");
        }

        string database = Path.Combine(storeDirectory, SqliteKeyBrokerStore.DefaultFileName);
        if (!File.Exists(database))
        {
            throw new CliException($"no broker store at {database}");
        }

        return new SqliteKeyBrokerStore(SqliteKeyBrokerStore.ConnectionStringFor(storeDirectory));
    }

    private static SignedTreeHead ReadKnownHead(string path, Jwk key)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"known tree head file {path} does not exist");
        }

        try
        {
            JsonNode? node = JsonNode.Parse(File.ReadAllText(path));
            JsonNode? head = node is JsonObject obj && obj.ContainsKey("signedTreeHead") ? obj["signedTreeHead"] : node;
            return SignedTreeHead.FromJson(head, key);
        }
        catch (Exception e) when (e is AuditProofException or System.Text.Json.JsonException)
        {
            throw new CliException($"{path} is not a signed tree head for this audit key: {e.Message}");
        }
    }

    private static T Run<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new CliException($"out of range: {e.Message}");
        }
        catch (AuditProofException e)
        {
            throw new CliException(e.Message);
        }
    }
}
