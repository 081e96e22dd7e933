// Append-only, hash-chained audit log with a signed chain head.
//
// Entry hash = SHA-256 of the canonical encoding (all integers big-endian):
//   "enclave-audit-entry-v1" | 0x00 | u64 sequence | i64 time (Unix ms) | u32 length | kind (UTF-8)
//   | u32 length | body (UTF-8 JSON, the exact stored text) | previous entry hash (32 bytes; zeros for entry 1)
// Sequences start at 1 and have no gaps. After every append the single chain-head record is replaced by
// (size, hash of the last entry, time, signature), the signature being a compact JWS (ES256, typ
// "enclave-audit-head+jws", kid = RFC 7638 thumbprint of the audit key) over
//   {"size":<n>,"head":"<lower-case hex>","time":<Unix ms>}
// so that editing, deleting, reordering or truncating stored rows is found by Verify.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Storage;

namespace Enclave.KeyBroker.Audit;

public sealed class AuditLog
{
    public const string HeadType = "enclave-audit-head+jws";

    private const string EntryDomain = "enclave-audit-entry-v1";
    private const int HashSize = 32;
    private static readonly string[] s_headAlgorithms = ["ES256"];

    private readonly IKeyBrokerStore _store;
    private readonly AuditSigningKey _signingKey;
    private readonly TimeProvider _time;

    public AuditLog(IKeyBrokerStore store, AuditSigningKey signingKey, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(signingKey);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _signingKey = signingKey;
        _time = time;
    }

    /// <summary>The public key that verifies chain heads.</summary>
    public Jwk PublicKey => _signingKey.PublicJwk;

    /// <summary>Appends an entry in its own transaction; it is durable when this returns.</summary>
    public AuditEntry Append(AuditEntryKind kind, JsonObject body)
    {
        using IKeyBrokerTransaction transaction = _store.BeginWrite();
        AuditEntry entry = Append(transaction, kind, body);
        transaction.Commit();
        return entry;
    }

    /// <summary>Appends an entry inside <paramref name="transaction"/>; it exists only if that commits.</summary>
    public AuditEntry Append(IKeyBrokerTransaction transaction, AuditEntryKind kind, JsonObject body)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(body);
        AuditEntryRecord? last = transaction.GetLastAuditEntry();
        long sequence = (last?.Sequence ?? 0) + 1;
        byte[] previous = last?.EntryHash ?? new byte[HashSize];
        DateTimeOffset now = TruncateToMs(_time.GetUtcNow());
        string kindText = kind.ToString();
        string bodyText = body.ToJsonString();
        byte[] hash = ComputeEntryHash(sequence, now, kindText, bodyText, previous);
        transaction.InsertAuditEntry(new AuditEntryRecord(sequence, now, kindText, bodyText, previous, hash));
        transaction.SetAuditHead(new AuditHeadRecord(sequence, hash, now, SignHead(sequence, hash, now)));
        return new AuditEntry(sequence, now, kindText, bodyText, Convert.ToHexStringLower(hash));
    }

    public IEnumerable<AuditEntry> ReadEntries(long fromSequence = 1) =>
        _store.ReadAuditEntries(fromSequence).Select(ToEntry);

    public AuditEntry? GetEntry(long sequence) => _store.GetAuditEntry(sequence) is { } record ? ToEntry(record) : null;

    /// <summary>The current signed chain head (null for an empty log).</summary>
    public AuditHeadRecord? GetHead() => _store.GetAuditHead();

    /// <summary>Verifies every entry and the signed head with this log's key.</summary>
    public AuditVerificationResult Verify() => Verify(_store, PublicKey);

    /// <summary>Verifies the log against a given audit public key (for example one an auditor kept).</summary>
    public AuditVerificationResult Verify(Jwk? auditPublicKey) => Verify(_store, auditPublicKey ?? PublicKey);

    /// <summary>Verifies the stored chain: contiguous sequences, each previous-hash link, each entry hash,
    /// then the signed head (its signature, the size it covers and the hash at that size).</summary>
    public static AuditVerificationResult Verify(IKeyBrokerStore store, Jwk auditPublicKey)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(auditPublicKey);

        AuditHeadRecord? head = store.GetAuditHead();
        long expected = 1;
        byte[] previous = new byte[HashSize];
        byte[]? hashAtHead = null;
        foreach (AuditEntryRecord entry in store.ReadAuditEntries(1))
        {
            if (entry.Sequence != expected)
            {
                return AuditVerificationResult.Invalid(expected - 1, expected, AuditFault.EntryMissing,
                    $"entry {expected} is missing (next stored entry is {entry.Sequence})");
            }

            if (!CryptographicOperations.FixedTimeEquals(entry.PreviousHash, previous))
            {
                return AuditVerificationResult.Invalid(expected - 1, expected, AuditFault.ChainBroken,
                    $"entry {expected} does not link to entry {expected - 1}: entries were reordered, inserted or removed");
            }

            byte[] computed = ComputeEntryHash(entry.Sequence, entry.Time, entry.Kind, entry.Body, entry.PreviousHash);
            if (!CryptographicOperations.FixedTimeEquals(computed, entry.EntryHash))
            {
                return AuditVerificationResult.Invalid(expected - 1, expected, AuditFault.EntryEdited,
                    $"entry {expected} does not match its hash: its content was edited");
            }

            if (head is not null && entry.Sequence == head.Size)
            {
                hashAtHead = computed;
            }

            previous = computed;
            expected++;
        }

        long count = expected - 1;
        if (head is null)
        {
            return count == 0
                ? AuditVerificationResult.Valid(0)
                : AuditVerificationResult.Invalid(count, 1, AuditFault.HeadMissing,
                    $"entries 1 to {count} are not covered by any signed head: the head record was removed");
        }

        if (!HeadSignatureCovers(head, auditPublicKey, out string problem))
        {
            return AuditVerificationResult.Invalid(count, null, AuditFault.HeadSignatureInvalid, problem);
        }

        if (count < head.Size)
        {
            return AuditVerificationResult.Invalid(count, count + 1, AuditFault.Truncated,
                $"the signed head covers {head.Size} entries but only {count} are stored: entries {count + 1} to {head.Size} were removed");
        }

        if (hashAtHead is null || !CryptographicOperations.FixedTimeEquals(hashAtHead, head.HeadHash))
        {
            return AuditVerificationResult.Invalid(count, head.Size, AuditFault.HeadMismatch,
                $"entry {head.Size} does not hash to the signed head: the chain was rewritten");
        }

        if (count > head.Size)
        {
            return AuditVerificationResult.Invalid(head.Size, head.Size + 1, AuditFault.UnsignedEntries,
                $"entries {head.Size + 1} to {count} are not covered by the signed head");
        }

        return AuditVerificationResult.Valid(count);
    }

    internal static byte[] ComputeEntryHash(long sequence, DateTimeOffset time, string kind, string body, byte[] previousHash)
    {
        if (previousHash.Length != HashSize)
        {
            return new byte[HashSize];
        }

        byte[] kindBytes = Encoding.UTF8.GetBytes(kind);
        byte[] bodyBytes = Encoding.UTF8.GetBytes(body);
        byte[] domain = Encoding.ASCII.GetBytes(EntryDomain);
        byte[] buffer = new byte[domain.Length + 1 + 8 + 8 + 4 + kindBytes.Length + 4 + bodyBytes.Length + HashSize];
        var span = buffer.AsSpan();
        domain.CopyTo(span);
        span = span[(domain.Length + 1)..];
        BinaryPrimitives.WriteUInt64BigEndian(span, (ulong)sequence);
        BinaryPrimitives.WriteInt64BigEndian(span[8..], time.ToUnixTimeMilliseconds());
        span = span[16..];
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)kindBytes.Length);
        kindBytes.CopyTo(span[4..]);
        span = span[(4 + kindBytes.Length)..];
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)bodyBytes.Length);
        bodyBytes.CopyTo(span[4..]);
        span = span[(4 + bodyBytes.Length)..];
        previousHash.CopyTo(span);
        return SHA256.HashData(buffer);
    }

    private string SignHead(long size, byte[] hash, DateTimeOffset time) =>
        Jws.Sign(HeadPayload(size, hash, time), _signingKey.Key, _signingKey.PublicJwk.Kid, HeadType);

    private static byte[] HeadPayload(long size, byte[] hash, DateTimeOffset time) =>
        Encoding.UTF8.GetBytes(new JsonObject
        {
            ["size"] = size,
            ["head"] = Convert.ToHexStringLower(hash),
            ["time"] = time.ToUnixTimeMilliseconds(),
        }.ToJsonString());

    private static bool HeadSignatureCovers(AuditHeadRecord head, Jwk publicKey, out string problem)
    {
        string thumbprint = publicKey.ComputeThumbprint();
        JwsVerified verified;
        try
        {
            verified = Jws.Verify(head.Signature, kid => kid == thumbprint ? publicKey : null, s_headAlgorithms);
        }
        catch (JoseException e)
        {
            problem = $"the head signature does not verify ({e.Code}: {e.Message})";
            return false;
        }

        if (verified.Header["typ"]?.GetValue<string>() != HeadType)
        {
            problem = "the head signature is not an audit head";
            return false;
        }

        if (!verified.Payload.AsSpan().SequenceEqual(HeadPayload(head.Size, head.HeadHash, head.Time)))
        {
            problem = "the head signature covers another size, hash or time than the stored head";
            return false;
        }

        problem = string.Empty;
        return true;
    }

    private static AuditEntry ToEntry(AuditEntryRecord record) =>
        new(record.Sequence, record.Time, record.Kind, record.Body, Convert.ToHexStringLower(record.EntryHash));

    private static DateTimeOffset TruncateToMs(DateTimeOffset time) =>
        DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());
}
