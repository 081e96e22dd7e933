// Signed tree head of the audit log: a compact JWS (ES256, typ "enclave-audit-sth+jws", kid = RFC 7638
// thumbprint of the audit key; no other header members) over exactly
//   {"treeSize":<n>,"rootHash":"<64 lower-case hex>","timestamp":<Unix ms>}
// where rootHash is MTH over the first n leaves (RFC 6962 section 2.1).
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Audit;

/// <summary>A tree size, its root hash and the time it was signed, with the JWS that signs them.</summary>
public sealed record SignedTreeHead(long TreeSize, byte[] RootHash, DateTimeOffset Timestamp, string Signature)
{
    public const string JwsType = "enclave-audit-sth+jws";

    private static readonly string[] s_algorithms = ["ES256"];

    internal static SignedTreeHead Create(long treeSize, byte[] rootHash, DateTimeOffset timestamp, AuditSigningKey key)
    {
        string jws = Jws.Sign(Payload(treeSize, rootHash, timestamp), key.Key, key.PublicJwk.Kid, JwsType);
        return new SignedTreeHead(treeSize, rootHash, timestamp, jws);
    }

    /// <summary>Verifies <paramref name="signature"/> with the audit public key and returns the signed values.</summary>
    /// <exception cref="AuditProofException">The JWS does not verify, is not a tree head, or its payload is not canonical.</exception>
    public static SignedTreeHead Verify(string signature, Jwk auditPublicKey)
    {
        ArgumentNullException.ThrowIfNull(signature);
        ArgumentNullException.ThrowIfNull(auditPublicKey);
        string thumbprint = auditPublicKey.ComputeThumbprint();
        JwsVerified verified;
        try
        {
            verified = Jws.Verify(signature, kid => kid == thumbprint ? auditPublicKey : null, s_algorithms);
        }
        catch (JoseException e)
        {
            throw new AuditProofException($"the signed tree head does not verify with the audit key ({e.Code}: {e.Message})", e);
        }

        if (verified.Header["typ"] is not JsonValue typ || typ.GetValueKind() != JsonValueKind.String || typ.GetValue<string>() != JwsType)
        {
            throw new AuditProofException($"the JWS is not a signed tree head (typ must be \"{JwsType}\")");
        }

        long size;
        byte[] root;
        long time;
        try
        {
            using JsonDocument document = JsonDocument.Parse(verified.Payload, new JsonDocumentOptions { MaxDepth = 4 });
            JsonElement payload = document.RootElement;
            size = payload.GetProperty("treeSize").GetInt64();
            root = Convert.FromHexString(payload.GetProperty("rootHash").GetString() ?? string.Empty);
            time = payload.GetProperty("timestamp").GetInt64();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new AuditProofException("the signed tree head's payload is not {treeSize, rootHash, timestamp}", e);
        }

        if (size < 0 || root.Length != MerkleTree.HashSize || time < 0 || time > 253402300799999)
        {
            throw new AuditProofException("the signed tree head has a negative size, a root that is not 32 bytes, or an impossible time");
        }

        DateTimeOffset timestamp = DateTimeOffset.FromUnixTimeMilliseconds(time);
        if (!verified.Payload.AsSpan().SequenceEqual(Payload(size, root, timestamp)))
        {
            throw new AuditProofException("the signed tree head's payload is not in canonical form");
        }

        return new SignedTreeHead(size, root, timestamp, signature);
    }

    /// <summary>The JSON form used in proofs: {"treeSize","rootHash","timestamp","signature"}.</summary>
    public JsonObject ToJson() => new()
    {
        ["treeSize"] = TreeSize,
        ["rootHash"] = Convert.ToHexStringLower(RootHash),
        ["timestamp"] = Timestamp.ToUnixTimeMilliseconds(),
        ["signature"] = Signature,
    };

    /// <summary>Reads the JSON form and verifies its signature; the plain members must equal the signed ones.</summary>
    /// <exception cref="AuditProofException">Missing members, a bad signature, or members that disagree with it.</exception>
    public static SignedTreeHead FromJson(JsonNode? node, Jwk auditPublicKey)
    {
        if (node is not JsonObject obj || obj["signature"] is not JsonValue signature || signature.GetValueKind() != JsonValueKind.String)
        {
            throw new AuditProofException("\"signedTreeHead\" must be an object with a \"signature\" string");
        }

        SignedTreeHead head = Verify(signature.GetValue<string>(), auditPublicKey);
        if (!JsonNode.DeepEquals(head.ToJson(), obj))
        {
            throw new AuditProofException("the signed tree head's treeSize, rootHash or timestamp differ from what its signature covers");
        }

        return head;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"tree size {TreeSize}, root {Convert.ToHexStringLower(RootHash)}, signed {Timestamp:O}");

    internal bool SameValues(long size, byte[] root) =>
        TreeSize == size && CryptographicOperations.FixedTimeEquals(RootHash, root);

    private static byte[] Payload(long size, byte[] root, DateTimeOffset time) =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["treeSize"] = size,
            ["rootHash"] = Convert.ToHexStringLower(root),
            ["timestamp"] = time.ToUnixTimeMilliseconds(),
        }.ToJsonString());
}

/// <summary>An audit proof or signed tree head is malformed or does not verify; the message says why.</summary>
public sealed class AuditProofException : Exception
{
    public AuditProofException(string message)
        : base(message)
    {
    }

    public AuditProofException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
