// The client side of one masked-aggregation round: y = x + sum_{v != u} (+/-) PRG(s_uv) + PRG(b_u) in Z_2^32.
// The self-mask seed b_u is revealed only after the server commits to the set of inputs it received.
using System.Security.Cryptography;

namespace Enclave.SecureAggregation;

public sealed class MaskingClient : IDisposable
{
    private readonly byte[] _selfSeed = RandomNumberGenerator.GetBytes(MaskExpander.SeedLength);
    private readonly string _id;
    private Stage _stage = Stage.Ready;

    public MaskingClient(string id)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        _id = id;
    }

    private enum Stage
    {
        Ready,
        Masked,
        Revealed,
    }

    /// <summary>Masks <paramref name="quantized"/> in place against <paramref name="peerSeeds"/> (peer id to pairwise seed).</summary>
    public void Mask(Span<uint> quantized, IReadOnlyDictionary<string, byte[]> peerSeeds)
    {
        ArgumentNullException.ThrowIfNull(peerSeeds);
        if (_stage != Stage.Ready)
        {
            throw new InvalidOperationException($"cannot mask in stage {_stage}: a client masks exactly once per round");
        }

        foreach ((string peer, byte[] seed) in peerSeeds.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            MaskExpander.Apply(quantized, seed, PairwiseSeed.Adds(_id, peer));
        }

        MaskExpander.Apply(quantized, _selfSeed, add: true);
        _stage = Stage.Masked;
    }

    /// <summary>Reveals the self-mask seed, once, and only if this client's input is among the survivors.</summary>
    public byte[] RevealSelfSeed(IReadOnlyCollection<string> survivors)
    {
        ArgumentNullException.ThrowIfNull(survivors);
        if (_stage != Stage.Masked)
        {
            throw new InvalidOperationException($"cannot reveal in stage {_stage}: reveal follows masking, once");
        }

        if (!survivors.Contains(_id))
        {
            throw new InvalidOperationException($"{_id} is not among the survivors; its self mask stays secret");
        }

        _stage = Stage.Revealed;
        return (byte[])_selfSeed.Clone();
    }

    public void Dispose() => CryptographicOperations.ZeroMemory(_selfSeed);
}
