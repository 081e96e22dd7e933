// Self-contained audit proofs that a third party checks with nothing but the proof and the published
// audit public key (audit.jwk). Formats (docs/formats.md, "Audit proofs"):
//   inclusion:   {"leafIndex":i,"treeSize":n,"leafHash":"<hex>","auditPath":["<hex>",...],
//                 "signedTreeHead":{"treeSize","rootHash","timestamp","signature"},
//                 "entry":{"sequence","time","kind","body","previousHash"}}
//   consistency: {"fromSize":m,"toSize":n,"proof":["<hex>",...],"from":{signed tree head},"to":{signed tree head}}
// The leaf hash is recomputed from "entry"; the root comes only from the signed tree head.
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Audit;

/// <summary>Proof that an entry is leaf <see cref="LeafIndex"/> of the tree a signed tree head commits to.</summary>
public sealed record AuditInclusionProof(long LeafIndex, byte[] LeafHash, IReadOnlyList<byte[]> AuditPath, SignedTreeHead TreeHead, AuditEntry Entry)
{
    /// <summary>Largest proof file accepted by <see cref="Parse"/>.</summary>
    public const int MaxJsonLength = 4 * 1024 * 1024;

    public JsonObject ToJson() => new()
    {
        ["leafIndex"] = LeafIndex,
        ["treeSize"] = TreeHead.TreeSize,
        ["leafHash"] = Convert.ToHexStringLower(LeafHash),
        ["auditPath"] = new JsonArray(AuditPath.Select(h => (JsonNode?)JsonValue.Create(Convert.ToHexStringLower(h))).ToArray()),
        ["signedTreeHead"] = TreeHead.ToJson(),
        ["entry"] = new JsonObject
        {
            ["sequence"] = Entry.Sequence,
            ["time"] = Entry.Time.ToUnixTimeMilliseconds(),
            ["kind"] = Entry.Kind,
            ["body"] = Entry.Body,
            ["previousHash"] = Entry.PreviousId,
        },
    };

    /// <summary>Checks a proof offline: the tree head's signature with <paramref name="auditPublicKey"/>, the
    /// leaf hash recomputed from the entry, and the audit path up to the signed root.</summary>
    /// <exception cref="AuditProofException">Anything does not hold; the message names it.</exception>
    public static AuditInclusionProof Check(string json, Jwk auditPublicKey)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(auditPublicKey);
        JsonObject root = ProofJson.ParseObject(json, MaxJsonLength);
        SignedTreeHead head = SignedTreeHead.FromJson(root["signedTreeHead"], auditPublicKey);
        long leafIndex = ProofJson.Long(root, "leafIndex");
        long treeSize = ProofJson.Long(root, "treeSize");
        byte[] leafHash = ProofJson.Hash(root, "leafHash");
        List<byte[]> path = ProofJson.Hashes(root, "auditPath");
        if (treeSize != head.TreeSize)
        {
            throw new AuditProofException($"\"treeSize\" {treeSize} is not the signed tree head's size {head.TreeSize}");
        }

        if (root["entry"] is not JsonObject entryJson)
        {
            throw new AuditProofException("\"entry\" must be an object");
        }

        long sequence = ProofJson.Long(entryJson, "sequence");
        long time = ProofJson.Long(entryJson, "time");
        string kind = ProofJson.String(entryJson, "kind");
        string body = ProofJson.String(entryJson, "body");
        byte[] previous = ProofJson.Hash(entryJson, "previousHash");
        if (sequence != leafIndex + 1)
        {
            throw new AuditProofException($"entry {sequence} cannot be leaf {leafIndex} (leaf index = sequence - 1)");
        }

        if (time < 0 || time > 253402300799999)
        {
            throw new AuditProofException("\"entry.time\" is out of range");
        }

        DateTimeOffset entryTime = DateTimeOffset.FromUnixTimeMilliseconds(time);
        byte[] computed = AuditLog.ComputeLeafHash(sequence, entryTime, kind, body, previous);
        if (!computed.AsSpan().SequenceEqual(leafHash))
        {
            throw new AuditProofException($"\"leafHash\" is not the hash of \"entry\" (computed {Convert.ToHexStringLower(computed)})");
        }

        if (!MerkleTree.VerifyInclusion(leafIndex, treeSize, leafHash, path, head.RootHash))
        {
            throw new AuditProofException($"the audit path does not lead from leaf {leafIndex} to the signed root of tree size {treeSize}");
        }

        var entry = new AuditEntry(sequence, entryTime, kind, body, Convert.ToHexStringLower(leafHash), Convert.ToHexStringLower(previous));
        return new AuditInclusionProof(leafIndex, leafHash, path, head, entry);
    }
}

/// <summary>Proof that the tree of <see cref="From"/> is a prefix of the tree of <see cref="To"/>.</summary>
public sealed record AuditConsistencyProof(SignedTreeHead From, SignedTreeHead To, IReadOnlyList<byte[]> Proof)
{
    public JsonObject ToJson() => new()
    {
        ["fromSize"] = From.TreeSize,
        ["toSize"] = To.TreeSize,
        ["proof"] = new JsonArray(Proof.Select(h => (JsonNode?)JsonValue.Create(Convert.ToHexStringLower(h))).ToArray()),
        ["from"] = From.ToJson(),
        ["to"] = To.ToJson(),
    };

    /// <summary>Checks both signed tree heads with <paramref name="auditPublicKey"/> and the proof between them.</summary>
    /// <exception cref="AuditProofException">Anything does not hold; the message names it.</exception>
    public static AuditConsistencyProof Check(string json, Jwk auditPublicKey)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(auditPublicKey);
        JsonObject root = ProofJson.ParseObject(json, AuditInclusionProof.MaxJsonLength);
        SignedTreeHead from = SignedTreeHead.FromJson(root["from"], auditPublicKey);
        SignedTreeHead to = SignedTreeHead.FromJson(root["to"], auditPublicKey);
        List<byte[]> proof = ProofJson.Hashes(root, "proof");
        if (ProofJson.Long(root, "fromSize") != from.TreeSize || ProofJson.Long(root, "toSize") != to.TreeSize)
        {
            throw new AuditProofException("\"fromSize\"/\"toSize\" differ from the sizes of the signed tree heads");
        }

        if (!MerkleTree.VerifyConsistency(from.TreeSize, to.TreeSize, from.RootHash, to.RootHash, proof))
        {
            throw new AuditProofException($"the tree of size {from.TreeSize} is not proven to be a prefix of the tree of size {to.TreeSize}");
        }

        return new AuditConsistencyProof(from, to, proof);
    }
}

internal static class ProofJson
{
    public static JsonObject ParseObject(string json, int maxLength)
    {
        if (json.Length > maxLength)
        {
            throw new AuditProofException($"the proof is longer than {maxLength} characters");
        }

        try
        {
            return JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 16 }) as JsonObject
                ?? throw new AuditProofException("the proof is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new AuditProofException($"the proof is not JSON: {e.Message}", e);
        }
    }

    public static long Long(JsonObject obj, string name) =>
        obj[name] is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue(out long result) && result >= 0
            ? result
            : throw new AuditProofException($"\"{name}\" must be a non-negative integer");

    public static string String(JsonObject obj, string name) =>
        obj[name] is JsonValue value && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>()
            : throw new AuditProofException($"\"{name}\" must be a string");

    public static byte[] Hash(JsonObject obj, string name) => ParseHash(String(obj, name), name);

    public static List<byte[]> Hashes(JsonObject obj, string name)
    {
        if (obj[name] is not JsonArray array || array.Count > MerkleTree.MaxProofLength)
        {
            throw new AuditProofException($"\"{name}\" must be an array of at most {MerkleTree.MaxProofLength} hashes");
        }

        var result = new List<byte[]>(array.Count);
        foreach (JsonNode? item in array)
        {
            if (item is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
            {
                throw new AuditProofException($"\"{name}\" must hold hex strings");
            }

            result.Add(ParseHash(value.GetValue<string>(), name));
        }

        return result;
    }

    private static byte[] ParseHash(string hex, string name)
    {
        if (hex.Length != 2 * MerkleTree.HashSize || !hex.All(char.IsAsciiHexDigitLower))
        {
            throw new AuditProofException($"\"{name}\" must be 64 lower-case hex digits");
        }

        return Convert.FromHexString(hex);
    }
}
