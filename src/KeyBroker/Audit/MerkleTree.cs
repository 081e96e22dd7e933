// Merkle tree hashing of RFC 6962 section 2.1 (SHA-256), with the audit paths of section 2.1.1, the
// consistency proofs of section 2.1.2, and their verification as RFC 9162 sections 2.1.3.2 and 2.1.4.2
// describe it.
//   leaf hash = SHA-256(0x00 || leaf data)         node hash = SHA-256(0x01 || left || right)
//   MTH({}) = SHA-256(""), MTH({d0}) = leaf hash, MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n])) where k is the
//   largest power of two smaller than n.
// Leaf indices are 0-based; every hash is 32 bytes.
using System.Security.Cryptography;

namespace Enclave.KeyBroker.Audit;

public static class MerkleTree
{
    public const int HashSize = 32;

    /// <summary>Longest audit path or consistency proof accepted (trees of up to 2^63 leaves).</summary>
    public const int MaxProofLength = 64;

    private const byte LeafPrefix = 0x00;
    private const byte NodePrefix = 0x01;

    /// <summary>MTH of the empty tree: SHA-256 of no bytes.</summary>
    public static byte[] EmptyRoot() => SHA256.HashData(ReadOnlySpan<byte>.Empty);

    public static byte[] HashLeaf(ReadOnlySpan<byte> data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData([LeafPrefix]);
        hash.AppendData(data);
        return hash.GetHashAndReset();
    }

    public static byte[] HashChildren(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> buffer = stackalloc byte[1 + 2 * HashSize];
        buffer[0] = NodePrefix;
        left.CopyTo(buffer[1..]);
        right.CopyTo(buffer[(1 + HashSize)..]);
        return SHA256.HashData(buffer);
    }

    /// <summary>MTH over the given leaf hashes.</summary>
    public static byte[] Root(IReadOnlyList<byte[]> leafHashes)
    {
        ArgumentNullException.ThrowIfNull(leafHashes);
        return leafHashes.Count == 0 ? EmptyRoot() : Subtree(leafHashes, 0, leafHashes.Count);
    }

    /// <summary>The audit path of leaf <paramref name="leafIndex"/> in the tree of the first
    /// <paramref name="treeSize"/> leaves, nearest sibling first.</summary>
    public static List<byte[]> InclusionPath(IReadOnlyList<byte[]> leafHashes, long leafIndex, long treeSize)
    {
        ArgumentNullException.ThrowIfNull(leafHashes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(treeSize, leafHashes.Count);
        ArgumentOutOfRangeException.ThrowIfNegative(leafIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(leafIndex, treeSize);
        var path = new List<byte[]>();
        Path((int)leafIndex, leafHashes, 0, (int)treeSize, path);
        return path;
    }

    /// <summary>The consistency proof between the trees of the first <paramref name="oldSize"/> and
    /// <paramref name="newSize"/> leaves (empty when the sizes are equal).</summary>
    public static List<byte[]> ConsistencyProof(IReadOnlyList<byte[]> leafHashes, long oldSize, long newSize)
    {
        ArgumentNullException.ThrowIfNull(leafHashes);
        ArgumentOutOfRangeException.ThrowIfLessThan(oldSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(oldSize, newSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(newSize, leafHashes.Count);
        var proof = new List<byte[]>();
        SubProof((int)oldSize, leafHashes, 0, (int)newSize, true, proof);
        return proof;
    }

    /// <summary>True when <paramref name="auditPath"/> proves that <paramref name="leafHash"/> is leaf
    /// <paramref name="leafIndex"/> of the tree of size <paramref name="treeSize"/> with root <paramref name="root"/>.</summary>
    public static bool VerifyInclusion(long leafIndex, long treeSize, ReadOnlySpan<byte> leafHash, IReadOnlyList<byte[]> auditPath, ReadOnlySpan<byte> root)
    {
        ArgumentNullException.ThrowIfNull(auditPath);
        if (leafIndex < 0 || leafIndex >= treeSize || leafHash.Length != HashSize || root.Length != HashSize
            || auditPath.Count > MaxProofLength || auditPath.Any(p => p is null || p.Length != HashSize))
        {
            return false;
        }

        long fn = leafIndex;
        long sn = treeSize - 1;
        byte[] r = leafHash.ToArray();
        foreach (byte[] p in auditPath)
        {
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                r = HashChildren(p, r);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                r = HashChildren(r, p);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && CryptographicOperations.FixedTimeEquals(r, root);
    }

    /// <summary>True when <paramref name="proof"/> shows that the tree of size <paramref name="oldSize"/>
    /// and root <paramref name="oldRoot"/> is a prefix of the tree of size <paramref name="newSize"/> and
    /// root <paramref name="newRoot"/>.</summary>
    public static bool VerifyConsistency(long oldSize, long newSize, ReadOnlySpan<byte> oldRoot, ReadOnlySpan<byte> newRoot, IReadOnlyList<byte[]> proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        if (oldSize < 1 || oldSize > newSize || oldRoot.Length != HashSize || newRoot.Length != HashSize
            || proof.Count > MaxProofLength || proof.Any(p => p is null || p.Length != HashSize))
        {
            return false;
        }

        if (oldSize == newSize)
        {
            return proof.Count == 0 && CryptographicOperations.FixedTimeEquals(oldRoot, newRoot);
        }

        if (proof.Count == 0)
        {
            return false;
        }

        var path = new List<byte[]>(proof.Count + 1);
        if ((oldSize & (oldSize - 1)) == 0)
        {
            path.Add(oldRoot.ToArray());
        }

        path.AddRange(proof);
        long fn = oldSize - 1;
        long sn = newSize - 1;
        while ((fn & 1) == 1)
        {
            fn >>= 1;
            sn >>= 1;
        }

        byte[] fr = path[0];
        byte[] sr = path[0];
        for (int i = 1; i < path.Count; i++)
        {
            byte[] c = path[i];
            if (sn == 0)
            {
                return false;
            }

            if ((fn & 1) == 1 || fn == sn)
            {
                fr = HashChildren(c, fr);
                sr = HashChildren(c, sr);
                while ((fn & 1) == 0 && fn != 0)
                {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            else
            {
                sr = HashChildren(sr, c);
            }

            fn >>= 1;
            sn >>= 1;
        }

        return sn == 0 && CryptographicOperations.FixedTimeEquals(fr, oldRoot) && CryptographicOperations.FixedTimeEquals(sr, newRoot);
    }

    internal static int LargestPowerOfTwoBelow(int n)
    {
        int k = 1;
        while (k << 1 < n)
        {
            k <<= 1;
        }

        return k;
    }

    private static byte[] Subtree(IReadOnlyList<byte[]> leaves, int start, int count)
    {
        if (count == 1)
        {
            return leaves[start];
        }

        int k = LargestPowerOfTwoBelow(count);
        return HashChildren(Subtree(leaves, start, k), Subtree(leaves, start + k, count - k));
    }

    private static void Path(int m, IReadOnlyList<byte[]> leaves, int start, int count, List<byte[]> path)
    {
        if (count <= 1)
        {
            return;
        }

        int k = LargestPowerOfTwoBelow(count);
        if (m < k)
        {
            Path(m, leaves, start, k, path);
            path.Add(Subtree(leaves, start + k, count - k));
        }
        else
        {
            Path(m - k, leaves, start + k, count - k, path);
            path.Add(Subtree(leaves, start, k));
        }
    }

    private static void SubProof(int m, IReadOnlyList<byte[]> leaves, int start, int count, bool complete, List<byte[]> proof)
    {
        if (m == count)
        {
            if (!complete)
            {
                proof.Add(Subtree(leaves, start, count));
            }

            return;
        }

        int k = LargestPowerOfTwoBelow(count);
        if (m <= k)
        {
            SubProof(m, leaves, start, k, complete, proof);
            proof.Add(Subtree(leaves, start + k, count - k));
        }
        else
        {
            SubProof(m - k, leaves, start + k, count - k, false, proof);
            proof.Add(Subtree(leaves, start, k));
        }
    }
}
