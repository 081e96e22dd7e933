using Enclave.KeyBroker.Audit;

namespace Enclave.KeyBroker.Tests;

/// <summary>RFC 6962 tree hashing, audit paths and consistency proofs, against the eight-leaf test tree
/// of the Certificate Transparency reference implementation and exhaustively for small trees.</summary>
public sealed class MerkleTreeTests
{
    private static readonly byte[][] s_ctLeaves =
    [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        [0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f],
    ];

    private static readonly string[] s_ctRoots =
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    private static List<byte[]> CtLeafHashes() => s_ctLeaves.Select(l => MerkleTree.HashLeaf(l)).ToList();

    [Fact]
    public void Empty_tree_root_is_the_hash_of_nothing()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Convert.ToHexStringLower(MerkleTree.Root([])));
        Assert.Equal(MerkleTree.Root([]), MerkleFrontier.Empty.Root());
    }

    [Fact]
    public void Roots_match_the_reference_test_tree_for_every_size()
    {
        List<byte[]> leaves = CtLeafHashes();
        MerkleFrontier frontier = MerkleFrontier.Empty;
        for (int n = 1; n <= 8; n++)
        {
            frontier = frontier.Append(leaves[n - 1]);
            Assert.Equal(s_ctRoots[n - 1], Convert.ToHexStringLower(MerkleTree.Root(leaves.Take(n).ToList())));
            Assert.Equal(s_ctRoots[n - 1], Convert.ToHexStringLower(frontier.Root()));
        }
    }

    [Theory]
    [InlineData(0, 8, "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7,5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e,6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]
    [InlineData(5, 8, "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b,ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0,d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]
    [InlineData(0, 1, "")]
    public void Audit_paths_match_the_reference(int index, int size, string expected)
    {
        List<byte[]> leaves = CtLeafHashes();

        List<byte[]> path = MerkleTree.InclusionPath(leaves, index, size);

        Assert.Equal(expected, string.Join(',', path.Select(Convert.ToHexStringLower)));
        Assert.True(MerkleTree.VerifyInclusion(index, size, leaves[index], path, Convert.FromHexString(s_ctRoots[size - 1])));
    }

    [Theory]
    [InlineData(1, 8, "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7,5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e,6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")]
    [InlineData(6, 8, "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a,ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0,d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")]
    [InlineData(2, 5, "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e,bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")]
    public void Consistency_proofs_match_the_reference(int from, int to, string expected)
    {
        List<byte[]> proof = MerkleTree.ConsistencyProof(CtLeafHashes(), from, to);

        Assert.Equal(expected, string.Join(',', proof.Select(Convert.ToHexStringLower)));
        Assert.True(MerkleTree.VerifyConsistency(from, to, Convert.FromHexString(s_ctRoots[from - 1]), Convert.FromHexString(s_ctRoots[to - 1]), proof));
    }

    [Fact]
    public void Every_proof_of_small_trees_verifies_and_every_mutation_fails()
    {
        List<byte[]> leaves = Enumerable.Range(0, 21).Select(i => MerkleTree.HashLeaf(BitConverter.GetBytes(i))).ToList();
        var roots = Enumerable.Range(0, 22).Select(n => n == 0 ? null : MerkleTree.Root(leaves.Take(n).ToList())).ToArray();
        for (int n = 1; n <= 21; n++)
        {
            for (int i = 0; i < n; i++)
            {
                List<byte[]> path = MerkleTree.InclusionPath(leaves, i, n);
                Assert.True(MerkleTree.VerifyInclusion(i, n, leaves[i], path, roots[n]));
                Assert.False(MerkleTree.VerifyInclusion(i, n, leaves[(i + 1) % 21], path, roots[n]));
                Assert.False(MerkleTree.VerifyInclusion(i, n, leaves[i], path, roots[n == 1 ? 2 : n - 1]));
                if (n > 1)
                {
                    Assert.False(MerkleTree.VerifyInclusion((i + 1) % n, n, leaves[i], path, roots[n]));
                    Assert.False(MerkleTree.VerifyInclusion(i, n, leaves[i], path.Take(path.Count - 1).ToList(), roots[n]));
                    Assert.False(MerkleTree.VerifyInclusion(i, n, leaves[i], Flip(path, path.Count - 1), roots[n]));
                }
            }

            for (int m = 1; m <= n; m++)
            {
                List<byte[]> proof = MerkleTree.ConsistencyProof(leaves, m, n);
                Assert.True(MerkleTree.VerifyConsistency(m, n, roots[m], roots[n], proof), $"{m} -> {n}");
                if (m < n)
                {
                    Assert.False(MerkleTree.VerifyConsistency(m, n, roots[n], roots[n], proof));
                    Assert.False(MerkleTree.VerifyConsistency(m, n, roots[m], roots[m], proof));
                    Assert.False(MerkleTree.VerifyConsistency(m, n, roots[m], roots[n], Flip(proof, 0)));
                    Assert.False(MerkleTree.VerifyConsistency(m, n, roots[m], roots[n], proof.Take(proof.Count - 1).ToList()));
                }
            }
        }
    }

    private static List<byte[]> Flip(List<byte[]> hashes, int index)
    {
        List<byte[]> copy = hashes.Select(h => (byte[])h.Clone()).ToList();
        copy[index][0] ^= 1;
        return copy;
    }
}
