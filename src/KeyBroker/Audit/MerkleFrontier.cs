using System.Collections.Immutable;

namespace Enclave.KeyBroker.Audit;

/// <summary>The right edge of a Merkle tree (RFC 6962 section 2.1): the roots of its perfect subtrees,
/// largest first. Appending a leaf and computing the root are O(log n); instances are immutable, so a
/// frontier computed inside a transaction that rolls back is simply dropped.</summary>
public sealed class MerkleFrontier
{
    private readonly ImmutableArray<(byte[] Hash, int Height)> _subtrees;

    private MerkleFrontier(long size, ImmutableArray<(byte[] Hash, int Height)> subtrees, byte[]? lastLeaf)
    {
        Size = size;
        _subtrees = subtrees;
        LastLeaf = lastLeaf;
    }

    public static MerkleFrontier Empty { get; } = new(0, [], null);

    public long Size { get; }

    /// <summary>The hash of the last leaf appended (null when empty).</summary>
    public byte[]? LastLeaf { get; }

    /// <summary>The frontier with <paramref name="leafHash"/> appended.</summary>
    public MerkleFrontier Append(byte[] leafHash)
    {
        ArgumentNullException.ThrowIfNull(leafHash);
        if (leafHash.Length != MerkleTree.HashSize)
        {
            throw new ArgumentException($"A leaf hash is {MerkleTree.HashSize} bytes.", nameof(leafHash));
        }

        ImmutableArray<(byte[] Hash, int Height)>.Builder builder = _subtrees.ToBuilder();
        (byte[] Hash, int Height) carry = (leafHash, 0);
        while (builder.Count > 0 && builder[^1].Height == carry.Height)
        {
            carry = (MerkleTree.HashChildren(builder[^1].Hash, carry.Hash), carry.Height + 1);
            builder.RemoveAt(builder.Count - 1);
        }

        builder.Add(carry);
        return new MerkleFrontier(Size + 1, builder.ToImmutable(), leafHash);
    }

    /// <summary>MTH of the leaves appended so far.</summary>
    public byte[] Root()
    {
        if (_subtrees.IsEmpty)
        {
            return MerkleTree.EmptyRoot();
        }

        byte[] root = _subtrees[^1].Hash;
        for (int i = _subtrees.Length - 2; i >= 0; i--)
        {
            root = MerkleTree.HashChildren(_subtrees[i].Hash, root);
        }

        return root;
    }
}
