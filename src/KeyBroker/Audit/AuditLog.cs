// Append-only audit log kept as an RFC 6962 Merkle tree over the stored entry rows.
//
// Entry encoding (all integers big-endian):
//   "enclave-audit-entry-v2" | 0x00 | u64 sequence | i64 time (Unix ms) | u32 length | kind (UTF-8)
//   | u32 length | body (UTF-8 JSON, the exact stored text) | previous leaf hash (32 bytes; zeros for entry 1)
// Leaf hash = SHA-256(0x00 | encoding) (MerkleTree.HashLeaf); it is the entry id and receipt id and is stored
// as AuditEntryRecord.EntryHash; AuditEntryRecord.PreviousHash is the previous entry's leaf hash. Leaf index
// = sequence - 1; sequences start at 1 and have no gaps.
//
// After every append the single head record holds the signed tree head (SignedTreeHead) of the whole log:
// its size, the Merkle root (AuditHeadRecord.HeadHash), the time and the JWS. The body of entry k > 1
// carries, as its last member "treeHead", the compact JWS of the signed tree head of size k - 1, so every
// past tree head stays available for proofs, and Verify can name the first rewritten entry even when all
// hashes after it were recomputed.
//
// Appends are O(log n): the right edge of the tree (MerkleFrontier) is kept in memory, rebuilt from the
// stored leaf hashes at startup and whenever another writer appended.
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
    /// <summary>The body member holding the signed tree head that precedes the entry.</summary>
    public const string TreeHeadMember = "treeHead";

    private const string EntryDomain = "enclave-audit-entry-v2";
    private const int HashSize = MerkleTree.HashSize;

    private readonly IKeyBrokerStore _store;
    private readonly AuditSigningKey _signingKey;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private MerkleFrontier _frontier;

    public AuditLog(IKeyBrokerStore store, AuditSigningKey signingKey, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(signingKey);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _signingKey = signingKey;
        _time = time;
        _frontier = Rebuild(long.MaxValue);
    }

    /// <summary>The public key that verifies signed tree heads.</summary>
    public Jwk PublicKey => _signingKey.PublicJwk;

    /// <summary>Appends an entry in its own transaction; it is durable when this returns.</summary>
    public AuditEntry Append(AuditEntryKind kind, JsonObject body)
    {
        using IKeyBrokerTransaction transaction = _store.BeginWrite();
        AuditEntry entry = Append(transaction, kind, body);
        transaction.Commit();
        return entry;
    }

    /// <summary>As <see cref="Append(AuditEntryKind, JsonObject)"/>, waiting for the writer and for durability
    /// without holding a thread.</summary>
    public async Task<AuditEntry> AppendAsync(AuditEntryKind kind, JsonObject body, CancellationToken cancellationToken = default)
    {
        using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync(cancellationToken).ConfigureAwait(false);
        AuditEntry entry = Append(transaction, kind, body);
        await transaction.CommitAsync().ConfigureAwait(false);
        return entry;
    }

    /// <summary>Appends an entry inside <paramref name="transaction"/>; it exists only if that commits.</summary>
    /// <exception cref="ArgumentException">The body already has a <see cref="TreeHeadMember"/> member.</exception>
    public AuditEntry Append(IKeyBrokerTransaction transaction, AuditEntryKind kind, JsonObject body)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(body);
        if (body.ContainsKey(TreeHeadMember))
        {
            throw new ArgumentException($"\"{TreeHeadMember}\" is reserved in audit entry bodies.", nameof(body));
        }

        // The store's transaction answers both from its own last append and head when it made one (a group commit).
        AuditEntryRecord? last = transaction.GetLastAuditEntry();
        long size = last?.Sequence ?? 0;
        byte[]? lastHash = last?.EntryHash;
        AuditHeadRecord? head = size > 0 ? transaction.GetAuditHead() : null;

        MerkleFrontier frontier = CurrentFrontier(transaction, size, lastHash);
        DateTimeOffset now = TruncateToMs(_time.GetUtcNow());
        var stored = (JsonObject)body.DeepClone();
        if (size > 0)
        {
            stored[TreeHeadMember] = PreviousTreeHead(head, size, frontier.Root(), now);
        }

        long sequence = size + 1;
        byte[] previous = lastHash ?? new byte[HashSize];
        string kindText = kind.ToString();
        string bodyText = stored.ToJsonString();
        byte[] leaf = ComputeLeafHash(sequence, now, kindText, bodyText, previous);
        transaction.InsertAuditEntry(new AuditEntryRecord(sequence, now, kindText, bodyText, previous, leaf));
        MerkleFrontier next = frontier.Append(leaf);
        SignedTreeHead signed = SignedTreeHead.Create(sequence, next.Root(), now, _signingKey);
        transaction.SetAuditHead(new AuditHeadRecord(signed.TreeSize, signed.RootHash, signed.Timestamp, signed.Signature));
        lock (_gate)
        {
            _frontier = next;
        }

        return new AuditEntry(sequence, now, kindText, bodyText, Convert.ToHexStringLower(leaf), Convert.ToHexStringLower(previous));
    }

    public IEnumerable<AuditEntry> ReadEntries(long fromSequence = 1) =>
        _store.ReadAuditEntries(fromSequence).Select(ToEntry);

    public AuditEntry? GetEntry(long sequence) => _store.GetAuditEntry(sequence) is { } record ? ToEntry(record) : null;

    /// <summary>The current head record (null for an empty log).</summary>
    public AuditHeadRecord? GetHead() => _store.GetAuditHead();

    /// <summary>The signed tree head of size <paramref name="treeSize"/>: the head record for the current
    /// size, otherwise the one carried by entry <paramref name="treeSize"/> + 1. Its signature is checked.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The size is not between 1 and the current size.</exception>
    /// <exception cref="AuditProofException">The stored tree head does not verify.</exception>
    public SignedTreeHead GetSignedTreeHead(long treeSize) => GetSignedTreeHead(_store, PublicKey, treeSize);

    /// <inheritdoc cref="GetSignedTreeHead(long)"/>
    public static SignedTreeHead GetSignedTreeHead(IKeyBrokerStore store, Jwk auditPublicKey, long treeSize)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(auditPublicKey);
        AuditHeadRecord head = store.GetAuditHead() ?? throw new ArgumentOutOfRangeException(nameof(treeSize), "The audit log is empty.");
        ArgumentOutOfRangeException.ThrowIfLessThan(treeSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(treeSize, head.Size);
        if (treeSize == head.Size)
        {
            SignedTreeHead current = SignedTreeHead.Verify(head.Signature, auditPublicKey);
            return current.SameValues(head.Size, head.HeadHash)
                ? current
                : throw new AuditProofException("the head record differs from what its signature covers");
        }

        AuditEntryRecord next = store.GetAuditEntry(treeSize + 1)
            ?? throw new AuditProofException($"entry {treeSize + 1}, which carries the tree head of size {treeSize}, is missing");
        SignedTreeHead carried = SignedTreeHead.Verify(EmbeddedTreeHead(next.Body) ?? throw new AuditProofException(
            $"entry {treeSize + 1} carries no tree head"), auditPublicKey);
        return carried.TreeSize == treeSize
            ? carried
            : throw new AuditProofException($"entry {treeSize + 1} carries the tree head of size {carried.TreeSize}");
    }

    /// <summary>An inclusion proof of entry <paramref name="sequence"/> in the tree of size
    /// <paramref name="treeSize"/> (default: the current size).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The entry or size is out of range.</exception>
    /// <exception cref="AuditProofException">The stored log does not match its signed tree head (run Verify).</exception>
    public AuditInclusionProof ProveInclusion(long sequence, long? treeSize = null) => ProveInclusion(_store, PublicKey, sequence, treeSize);

    /// <inheritdoc cref="ProveInclusion(long, long?)"/>
    public static AuditInclusionProof ProveInclusion(IKeyBrokerStore store, Jwk auditPublicKey, long sequence, long? treeSize = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        long size = treeSize ?? store.GetAuditHead()?.Size ?? 0;
        ArgumentOutOfRangeException.ThrowIfLessThan(sequence, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sequence, size);
        SignedTreeHead head = GetSignedTreeHead(store, auditPublicKey, size);
        List<byte[]> leaves = ReadLeaves(store, size);
        if (!MerkleTree.Root(leaves).AsSpan().SequenceEqual(head.RootHash))
        {
            throw new AuditProofException($"the stored entries 1 to {size} do not hash to the signed root; run audit verify");
        }

        AuditEntry entry = ToEntry(store.GetAuditEntry(sequence)!);
        return new AuditInclusionProof(sequence - 1, leaves[(int)(sequence - 1)], MerkleTree.InclusionPath(leaves, sequence - 1, size), head, entry);
    }

    /// <summary>A consistency proof between the signed tree heads of sizes <paramref name="fromSize"/> and <paramref name="toSize"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The sizes are out of range.</exception>
    /// <exception cref="AuditProofException">The stored log does not match its signed tree heads (run Verify).</exception>
    public AuditConsistencyProof ProveConsistency(long fromSize, long toSize) => ProveConsistency(_store, PublicKey, fromSize, toSize);

    /// <inheritdoc cref="ProveConsistency(long, long)"/>
    public static AuditConsistencyProof ProveConsistency(IKeyBrokerStore store, Jwk auditPublicKey, long fromSize, long toSize)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThan(fromSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(fromSize, toSize);
        SignedTreeHead from = GetSignedTreeHead(store, auditPublicKey, fromSize);
        SignedTreeHead to = GetSignedTreeHead(store, auditPublicKey, toSize);
        List<byte[]> leaves = ReadLeaves(store, toSize);
        if (!MerkleTree.Root(leaves).AsSpan().SequenceEqual(to.RootHash))
        {
            throw new AuditProofException($"the stored entries 1 to {toSize} do not hash to the signed root; run audit verify");
        }

        return new AuditConsistencyProof(from, to, MerkleTree.ConsistencyProof(leaves, fromSize, toSize));
    }

    /// <summary>Verifies every entry and the signed tree heads with this log's key.</summary>
    public AuditVerificationResult Verify() => Verify(_store, PublicKey);

    /// <summary>Verifies the log against a given audit public key (for example one an auditor kept).</summary>
    public AuditVerificationResult Verify(Jwk? auditPublicKey) => Verify(_store, auditPublicKey ?? PublicKey);

    /// <summary>Recomputes everything from the stored rows: the head record's signature; for each entry in
    /// order its sequence, its previous-hash link, its leaf hash, and the signed tree head it carries against
    /// the Merkle root of the entries before it; finally the head's size and root. The first failure is
    /// reported with the first entry that cannot be trusted.</summary>
    /// <param name="store">The store to read.</param>
    /// <param name="auditPublicKey">The published audit key.</param>
    /// <param name="knownTreeHead">A signed tree head the auditor obtained earlier (already verified); the
    /// stored log must still contain it, which detects a rollback to an older, genuinely signed head.</param>
    public static AuditVerificationResult Verify(IKeyBrokerStore store, Jwk auditPublicKey, SignedTreeHead? knownTreeHead = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(auditPublicKey);

        AuditHeadRecord? head = store.GetAuditHead();
        if (head is not null)
        {
            string? problem = null;
            try
            {
                SignedTreeHead signed = SignedTreeHead.Verify(head.Signature, auditPublicKey);
                if (!signed.SameValues(head.Size, head.HeadHash) || signed.Timestamp != head.Time)
                {
                    problem = "the head signature covers another size, root or time than the stored head";
                }
            }
            catch (AuditProofException e)
            {
                problem = e.Message;
            }

            if (problem is not null)
            {
                return AuditVerificationResult.Invalid(0, null, AuditFault.HeadSignatureInvalid, problem);
            }
        }

        MerkleFrontier frontier = MerkleFrontier.Empty;
        long expected = 1;
        byte[] previous = new byte[HashSize];
        byte[]? rootAtHead = null;
        byte[]? rootAtKnown = null;
        foreach (AuditEntryRecord entry in store.ReadAuditEntries(1))
        {
            long verified = expected - 1;
            if (entry.Sequence != expected)
            {
                return AuditVerificationResult.Invalid(verified, expected, AuditFault.EntryMissing,
                    $"entry {expected} is missing (next stored entry is {entry.Sequence})");
            }

            if (!CryptographicOperations.FixedTimeEquals(entry.PreviousHash, previous))
            {
                return AuditVerificationResult.Invalid(verified, expected, AuditFault.ChainBroken,
                    $"entry {expected} does not link to entry {expected - 1}: entries were reordered, inserted or removed");
            }

            byte[] leaf = ComputeLeafHash(entry.Sequence, entry.Time, entry.Kind, entry.Body, entry.PreviousHash);
            if (!CryptographicOperations.FixedTimeEquals(leaf, entry.EntryHash))
            {
                return AuditVerificationResult.Invalid(verified, expected, AuditFault.EntryEdited,
                    $"entry {expected} does not match its hash: its content was edited");
            }

            if (expected > 1)
            {
                AuditVerificationResult? carried = CheckCarriedTreeHead(entry, frontier, auditPublicKey);
                if (carried is not null)
                {
                    return carried;
                }
            }

            frontier = frontier.Append(leaf);
            if (head is not null && expected == head.Size)
            {
                rootAtHead = frontier.Root();
            }

            if (knownTreeHead is not null && expected == knownTreeHead.TreeSize)
            {
                rootAtKnown = frontier.Root();
            }

            previous = leaf;
            expected++;
        }

        long count = expected - 1;
        if (head is null)
        {
            return count == 0
                ? AuditVerificationResult.Valid(0, MerkleTree.EmptyRoot())
                : AuditVerificationResult.Invalid(0, 1, AuditFault.HeadMissing,
                    $"entries 1 to {count} are not covered by any signed tree head: the head record was removed");
        }

        if (count < head.Size)
        {
            return AuditVerificationResult.Invalid(count, count + 1, AuditFault.Truncated,
                $"the signed tree head covers {head.Size} entries but only {count} are stored: entries {count + 1} to {head.Size} were removed");
        }

        if (rootAtHead is null || !CryptographicOperations.FixedTimeEquals(rootAtHead, head.HeadHash))
        {
            return AuditVerificationResult.Invalid(head.Size - 1, head.Size, AuditFault.HeadMismatch,
                $"entries 1 to {head.Size} do not hash to the signed root: entry {head.Size} was rewritten");
        }

        if (count > head.Size)
        {
            return AuditVerificationResult.Invalid(head.Size, head.Size + 1, AuditFault.UnsignedEntries,
                $"entries {head.Size + 1} to {count} are not covered by the signed tree head");
        }

        if (knownTreeHead is not null && knownTreeHead.TreeSize > 0)
        {
            if (knownTreeHead.TreeSize > count)
            {
                return AuditVerificationResult.Invalid(count, count + 1, AuditFault.Truncated,
                    $"the log was rolled back: a tree head of size {knownTreeHead.TreeSize} was signed, but only {count} entries are stored");
            }

            if (!CryptographicOperations.FixedTimeEquals(rootAtKnown!, knownTreeHead.RootHash))
            {
                return AuditVerificationResult.Invalid(knownTreeHead.TreeSize - 1, knownTreeHead.TreeSize, AuditFault.TreeHeadMismatch,
                    $"entries 1 to {knownTreeHead.TreeSize} do not hash to the root of the known tree head: the log was rewritten up to entry {knownTreeHead.TreeSize}");
            }
        }

        return AuditVerificationResult.Valid(count, rootAtHead);
    }

    /// <summary>The Merkle leaf hash of an entry (see the file header for the encoding).</summary>
    public static byte[] ComputeLeafHash(long sequence, DateTimeOffset time, string kind, string body, byte[] previousHash)
    {
        ArgumentNullException.ThrowIfNull(kind);
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(previousHash);
        if (previousHash.Length != HashSize)
        {
            // A stored row with a link of the wrong length can never verify; hash it to nothing valid.
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
        return MerkleTree.HashLeaf(buffer);
    }

    private static AuditVerificationResult? CheckCarriedTreeHead(AuditEntryRecord entry, MerkleFrontier before, Jwk auditPublicKey)
    {
        long sequence = entry.Sequence;
        string? jws = EmbeddedTreeHead(entry.Body);
        if (jws is null)
        {
            return AuditVerificationResult.Invalid(sequence - 1, sequence, AuditFault.EntryEdited,
                $"entry {sequence} carries no signed tree head of size {sequence - 1}: its content was replaced");
        }

        SignedTreeHead carried;
        try
        {
            carried = SignedTreeHead.Verify(jws, auditPublicKey);
        }
        catch (AuditProofException e)
        {
            return AuditVerificationResult.Invalid(sequence - 1, sequence, AuditFault.EntryEdited,
                $"entry {sequence} carries a tree head that does not verify ({e.Message}): its content was edited");
        }

        if (carried.TreeSize != sequence - 1)
        {
            return AuditVerificationResult.Invalid(sequence - 1, sequence, AuditFault.EntryEdited,
                $"entry {sequence} carries the tree head of size {carried.TreeSize} instead of {sequence - 1}: entries were moved");
        }

        if (!CryptographicOperations.FixedTimeEquals(carried.RootHash, before.Root()))
        {
            return AuditVerificationResult.Invalid(sequence - 2, sequence - 1, AuditFault.TreeHeadMismatch,
                $"entries 1 to {sequence - 1} do not hash to the root signed in entry {sequence}: entry {sequence - 1} was rewritten and the hashes after it recomputed");
        }

        return null;
    }

    private static string? EmbeddedTreeHead(string body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty(TreeHeadMember, out JsonElement value)
                && value.ValueKind == JsonValueKind.String
                    ? value.GetString()
                    : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private string PreviousTreeHead(AuditHeadRecord? head, long size, byte[] root, DateTimeOffset now)
    {
        if (head is not null && head.Size == size && CryptographicOperations.FixedTimeEquals(head.HeadHash, root))
        {
            return head.Signature;
        }

        return SignedTreeHead.Create(size, root, now, _signingKey).Signature;
    }

    private static MerkleFrontier CurrentFrontier(IKeyBrokerTransaction transaction, long size)
    {
        // Another writer (or a rolled-back append) moved the log: rebuild the right edge from the rows this
        // transaction sees, on its own connection, so no second connection is needed while the writer lock is held.
        MerkleFrontier frontier = MerkleFrontier.Empty;
        foreach (byte[] leaf in transaction.ReadAuditLeafHashes(size))
        {
            frontier = frontier.Append(leaf.Length == HashSize ? leaf : new byte[HashSize]);
        }

        return frontier;
    }

    private MerkleFrontier CurrentFrontier(IKeyBrokerTransaction transaction, long size, byte[]? lastHash)
    {
        MerkleFrontier frontier;
        lock (_gate)
        {
            frontier = _frontier;
        }

        bool current = frontier.Size == size
            && (size == 0 || (frontier.LastLeaf is not null && lastHash is not null && CryptographicOperations.FixedTimeEquals(frontier.LastLeaf, lastHash)));
        return current ? frontier : CurrentFrontier(transaction, size);
    }

    private MerkleFrontier Rebuild(long size)
    {
        MerkleFrontier frontier = MerkleFrontier.Empty;
        foreach (AuditEntryRecord record in _store.ReadAuditEntries(1))
        {
            if (frontier.Size >= size)
            {
                break;
            }

            frontier = frontier.Append(record.EntryHash.Length == HashSize ? record.EntryHash : new byte[HashSize]);
        }

        return frontier;
    }

    private static List<byte[]> ReadLeaves(IKeyBrokerStore store, long size)
    {
        var leaves = new List<byte[]>();
        foreach (AuditEntryRecord record in store.ReadAuditEntries(1))
        {
            if (leaves.Count >= size)
            {
                break;
            }

            leaves.Add(record.EntryHash);
        }

        return leaves.Count == size
            ? leaves
            : throw new AuditProofException($"only {leaves.Count} of {size} entries are stored; run audit verify");
    }

    private static AuditEntry ToEntry(AuditEntryRecord record) =>
        new(record.Sequence, record.Time, record.Kind, record.Body, Convert.ToHexStringLower(record.EntryHash), Convert.ToHexStringLower(record.PreviousHash));

    private static DateTimeOffset TruncateToMs(DateTimeOffset time) =>
        DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());
}
