// The server state machine of the staged protocol. Pure: it consumes client messages and produces the messages
// to send, never performing I/O. Masked inputs are added to a running sum as they arrive, so memory stays one
// vector whatever the cohort size. A rejected message leaves the state unchanged; a round that can no longer
// complete (fewer than t live holders of some secret it would need) aborts before anything more is asked for.
// The server only ever asks for self-mask shares of clients whose masked input it holds and mask-key shares of
// clients whose input it does not, so no client's two secrets are both requested.
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Enclave.SecureAggregation.Staged;

/// <summary>The result of a completed round.</summary>
/// <param name="Sum">Sum of the survivors' inputs in Z_2^RingBits.</param>
/// <param name="Survivors">Clients whose inputs are in the sum, ascending.</param>
/// <param name="RegeneratedBytes">Mask bytes the server regenerated to unmask (for measurements).</param>
public sealed record SecAggResult(uint[] Sum, IReadOnlyList<int> Survivors, long RegeneratedBytes);

/// <summary>The server of one round.</summary>
public sealed class SecAggServer
{
    private readonly SecAggRound _round;
    private readonly Dictionary<int, AdvertiseKeys> _advertised = new();
    private readonly Dictionary<int, ShareKeys> _shares = new();
    private readonly HashSet<int> _masked = new();
    private readonly Dictionary<int, byte[]> _consistency = new();
    private readonly HashSet<int> _responded = new();
    private readonly Dictionary<int, List<(int Holder, Field521 Value)>> _selfMaskShares = new();
    private readonly Dictionary<int, List<(int Holder, Field521 Value)>> _maskKeyShares = new();
    private readonly Dictionary<int, (HashSet<int> SelfMask, HashSet<int> MaskKey)> _requested = new();
    private uint[]? _sum;
    private int[] _u2 = [];
    private int[] _u3 = [];
    private byte[] _survivorDigest = [];

    public SecAggServer(SecAggRound round)
    {
        ArgumentNullException.ThrowIfNull(round);
        _round = round;
    }

    /// <summary>The stage whose client messages the server accepts now (null once finished or aborted).</summary>
    public SecAggStage? Stage { get; private set; } = SecAggStage.AdvertiseKeys;

    public bool IsAborted { get; private set; }

    /// <summary>Accepts one client message of the current stage.</summary>
    /// <exception cref="SecAggException">The message is rejected; the code says why. The server state is unchanged.</exception>
    public void Receive(SecAggMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        CheckLive();
        if (message.RoundId != _round.RoundId)
        {
            throw new SecAggException(SecAggErrorCode.WrongRound, $"message of round {message.RoundId}, this is {_round.RoundId}");
        }

        if (message.Stage != Stage)
        {
            throw new SecAggException(SecAggErrorCode.WrongStage, $"a {message.Stage} message while the server is in stage {Stage}");
        }

        switch (message)
        {
            case AdvertiseKeys m:
                Admit(m.Sender, null, _advertised.ContainsKey(m.Sender), m, m.Signature);
                SecAggCrypto.ImportPublic(m.EncryptionKey, $"encryption key of {m.Sender}").Dispose();
                SecAggCrypto.ImportPublic(m.MaskingKey, $"masking key of {m.Sender}").Dispose();
                _advertised.Add(m.Sender, m);
                break;
            case ShareKeys m:
                Admit(m.Sender, _advertised.Keys, _shares.ContainsKey(m.Sender), m, m.Signature);
                int[] expected = LiveNeighbours(m.Sender, _advertised.Keys);
                int[] got = [.. m.Shares.Select(s => s.Peer).Order()];
                if (!got.SequenceEqual(expected))
                {
                    throw new SecAggException(SecAggErrorCode.Inconsistent, $"shares of {m.Sender} are not addressed to exactly its {expected.Length} live neighbours");
                }

                _shares.Add(m.Sender, m);
                break;
            case MaskedInput m:
                Admit(m.Sender, _u2, _masked.Contains(m.Sender), null, null);
                if (m.RingBits != _round.RingBits || m.Vector.Length != _round.VectorLength)
                {
                    throw new SecAggException(SecAggErrorCode.Inconsistent, $"masked input of {m.Sender} has {m.Vector.Length} elements in a {m.RingBits}-bit ring, expected {_round.VectorLength} in {_round.RingBits}");
                }

                VerifyOrThrow(m.Sender, m, m.Signature);
                _sum ??= new uint[_round.VectorLength];
                MaskPrg.Combine(_sum, m.Vector, add: true);
                _masked.Add(m.Sender);
                break;
            case ConsistencySignature m:
                Admit(m.Sender, _u3, _consistency.ContainsKey(m.Sender), m, m.Signature);
                if (!m.SurvivorDigest.AsSpan().SequenceEqual(_survivorDigest))
                {
                    throw new SecAggException(SecAggErrorCode.Inconsistent, $"{m.Sender} signed another survivor set");
                }

                _consistency.Add(m.Sender, m.Signature);
                break;
            case UnmaskResponse m:
                AcceptUnmask(m);
                break;
            default:
                throw new SecAggException(SecAggErrorCode.WrongStage, $"{message.GetType().Name} is not a client message");
        }
    }

    /// <summary>Ends stage 1: each client that advertised gets its live neighbours' keys.</summary>
    public IReadOnlyList<KeyDirectory> CloseAdvertiseKeys()
    {
        Close(SecAggStage.AdvertiseKeys);
        int[] u1 = [.. _advertised.Keys.Order()];
        RequireEveryone(u1, u1, "advertised keys");
        var result = new List<KeyDirectory>(u1.Length);
        foreach (int u in u1)
        {
            result.Add(new KeyDirectory(_round.RoundId, u, [.. LiveNeighbours(u, u1).Select(v => _advertised[v])]));
        }

        Stage = SecAggStage.ShareKeys;
        return result;
    }

    /// <summary>Ends stage 2: each client that shared gets the shares its live neighbours encrypted to it.</summary>
    public IReadOnlyList<ShareDelivery> CloseShareKeys()
    {
        Close(SecAggStage.ShareKeys);
        _u2 = [.. _shares.Keys.Order()];
        RequireEveryone(_u2, _u2, "shared their secrets");
        var result = new List<ShareDelivery>(_u2.Length);
        foreach (int v in _u2)
        {
            var delivered = new List<EncryptedShare>();
            foreach (int w in LiveNeighbours(v, _u2))
            {
                EncryptedShare share = _shares[w].Shares.First(s => s.Peer == v);
                delivered.Add(new EncryptedShare(w, share.Ciphertext));
            }

            result.Add(new ShareDelivery(_round.RoundId, v, delivered));
        }

        Stage = SecAggStage.MaskedInput;
        return result;
    }

    /// <summary>Ends stage 3: every client whose masked input arrived is sent the survivor set.</summary>
    public IReadOnlyList<SurvivorSet> CloseMaskedInput()
    {
        Close(SecAggStage.MaskedInput);
        _u3 = [.. _masked.Order()];
        RequireRecoverable(_u3, "sent masked inputs");
        _survivorDigest = SecAggCodec.SurvivorDigest(_round.RoundId, _u3);
        Stage = SecAggStage.ConsistencyCheck;
        return [.. _u3.Select(u => new SurvivorSet(_round.RoundId, u, _u3))];
    }

    /// <summary>Ends stage 4: each client that signed the survivor set is asked for the shares needed.</summary>
    public IReadOnlyList<UnmaskRequest> CloseConsistencyCheck()
    {
        Close(SecAggStage.ConsistencyCheck);
        int[] u4 = [.. _consistency.Keys.Order()];
        RequireRecoverable(u4, "signed the survivor set");
        var survivors = new HashSet<int>(_u3);
        var result = new List<UnmaskRequest>(u4.Length);
        foreach (int v in u4)
        {
            int[] around = _round.Graph.NeighboursOf(v);
            SurvivorSignature[] signatures = [.. around.Append(v).Where(_consistency.ContainsKey).Order().Select(s => new SurvivorSignature(s, _consistency[s]))];
            int[] selfMaskOf = [.. around.Append(v).Where(survivors.Contains).Order()];
            int[] maskKeyOf = [.. around.Where(w => !survivors.Contains(w) && Array.BinarySearch(_u2, w) >= 0)];
            _requested[v] = ([.. selfMaskOf], [.. maskKeyOf]);
            result.Add(new UnmaskRequest(_round.RoundId, v, _u3, signatures, selfMaskOf, maskKeyOf));
        }

        Stage = SecAggStage.Unmask;
        return result;
    }

    /// <summary>Ends stage 5: reconstructs the secrets needed, removes the masks, and returns the sum.</summary>
    /// <exception cref="SecAggException">BelowThreshold when too few shares arrived; the round is aborted.</exception>
    public SecAggResult CloseUnmask()
    {
        Close(SecAggStage.Unmask);
        int t = _round.Parameters.Threshold;
        uint[] sum = _sum ?? new uint[_round.VectorLength];
        var survivors = new HashSet<int>(_u3);
        var dropped = _u2.Where(u => !survivors.Contains(u) && _round.Graph.NeighboursOf(u).Any(survivors.Contains)).ToArray();
        foreach (int u in _u3)
        {
            Need(u, _selfMaskShares, "self-mask");
        }

        foreach (int u in dropped)
        {
            Need(u, _maskKeyShares, "mask-key");
        }

        // Every seed is recovered first (Shamir, ECDH), then all masks are removed in one grouped pass.
        var masks = new List<MaskSeed>(_u3.Length);
        var survivorKeys = new Dictionary<int, ECDiffieHellman>();
        try
        {
            foreach (int u in _u3)
            {
                masks.Add(new MaskSeed(Reconstruct(_selfMaskShares[u], 32, $"self-mask seed of {u}"), Add: false));
            }

            DroppedMaskSeeds(dropped, survivors, survivorKeys, masks);
            using var prg = new MaskPrg();
            prg.ApplyAll(sum, CollectionsMarshal.AsSpan(masks));
        }
        finally
        {
            foreach (MaskSeed m in masks)
            {
                CryptographicOperations.ZeroMemory(m.Seed);
            }

            foreach (ECDiffieHellman k in survivorKeys.Values)
            {
                k.Dispose();
            }
        }

        long regenerated = masks.Count * (long)sum.Length * sizeof(uint);

        uint mask = _round.RingMask;
        if (mask != uint.MaxValue)
        {
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] &= mask;
            }
        }

        Stage = null;
        _sum = null;
        return new SecAggResult(sum, _u3, regenerated);

        void Need(int owner, Dictionary<int, List<(int, Field521)>> store, string what)
        {
            int have = store.TryGetValue(owner, out var list) ? list.Count : 0;
            if (have < t)
            {
                Abort($"only {have} {what} shares of client {owner} arrived, {t} needed");
            }
        }
    }

    /// <summary>The pairwise seeds of each dropped client with its surviving neighbours, signed to undo what they added.</summary>
    private void DroppedMaskSeeds(int[] dropped, HashSet<int> survivors, Dictionary<int, ECDiffieHellman> survivorKeys, List<MaskSeed> masks)
    {
        foreach (int u in dropped)
        {
            byte[] scalar = Reconstruct(_maskKeyShares[u], 32, $"mask key of {u}");
            using ECDiffieHellman key = SecAggCrypto.ImportPrivate(scalar, _advertised[u].MaskingKey, $"mask key of {u}");
            CryptographicOperations.ZeroMemory(scalar);
            foreach (int v in _round.Graph.NeighboursOf(u))
            {
                if (!survivors.Contains(v))
                {
                    continue;
                }

                if (!survivorKeys.TryGetValue(v, out ECDiffieHellman? peer))
                {
                    survivorKeys[v] = peer = SecAggCrypto.ImportPublic(_advertised[v].MaskingKey, $"masking key of {v}");
                }

                // v added PRG(s_uv) when v < u and subtracted it otherwise; undo that.
                masks.Add(new MaskSeed(SecAggCrypto.MaskSeed(key, peer, _round.RoundId, u, v), Add: v > u));
            }
        }
    }

    private void AcceptUnmask(UnmaskResponse m)
    {
        if (!_requested.TryGetValue(m.Sender, out var asked) || _responded.Contains(m.Sender))
        {
            throw new SecAggException(SecAggErrorCode.UnexpectedSender, $"unmask response from {m.Sender}, which was not asked or already answered");
        }

        VerifyOrThrow(m.Sender, m, m.Signature);
        var seen = new HashSet<(int, ShareKind)>();
        var parsed = new List<(int Owner, ShareKind Kind, Field521 Value)>(m.Shares.Count);
        foreach (RevealedShare s in m.Shares)
        {
            HashSet<int> allowed = s.Kind == ShareKind.SelfMask ? asked.SelfMask : asked.MaskKey;
            if (!allowed.Contains(s.Owner) || !seen.Add((s.Owner, s.Kind)))
            {
                throw new SecAggException(SecAggErrorCode.Inconsistent, $"{m.Sender} revealed a {s.Kind} share of {s.Owner}, which was not asked for or repeats");
            }

            try
            {
                parsed.Add((s.Owner, s.Kind, Field521.FromBigEndian(s.Value)));
            }
            catch (ArgumentException ex)
            {
                throw new SecAggException(SecAggErrorCode.Malformed, $"{m.Sender} revealed a share outside the field: {ex.Message}");
            }
        }

        foreach ((int owner, ShareKind kind, Field521 value) in parsed)
        {
            Dictionary<int, List<(int, Field521)>> store = kind == ShareKind.SelfMask ? _selfMaskShares : _maskKeyShares;
            if (!store.TryGetValue(owner, out var list))
            {
                store[owner] = list = [];
            }

            list.Add((m.Sender, value));
        }

        _responded.Add(m.Sender);
    }

    private byte[] Reconstruct(List<(int Holder, Field521 Value)> shares, int length, string what)
    {
        int t = _round.Parameters.Threshold;
        int[] xs = [.. shares.Take(t).Select(s => s.Holder)];
        Field521[] ys = [.. shares.Take(t).Select(s => s.Value)];
        Field521 secret = Shamir.Reconstruct(xs, ys);
        var full = new byte[Field521.EncodedLength];
        secret.WriteBigEndian(full);
        if (full.AsSpan(0, Field521.EncodedLength - length).IndexOfAnyExcept((byte)0) >= 0)
        {
            throw new SecAggException(SecAggErrorCode.Inconsistent, $"the reconstructed {what} is longer than {length} bytes: a share was wrong");
        }

        byte[] result = full[(Field521.EncodedLength - length)..];
        CryptographicOperations.ZeroMemory(full);
        return result;
    }

    private void Admit(int sender, IEnumerable<int>? previous, bool duplicate, SecAggMessage? signed, byte[]? signature)
    {
        if (sender < 1 || sender > _round.Parameters.CohortSize)
        {
            throw new SecAggException(SecAggErrorCode.UnexpectedSender, $"client {sender} is not in the cohort of {_round.Parameters.CohortSize}");
        }

        if (previous is not null && !previous.Contains(sender))
        {
            throw new SecAggException(SecAggErrorCode.UnexpectedSender, $"client {sender} did not complete the previous stage");
        }

        if (duplicate)
        {
            throw new SecAggException(SecAggErrorCode.UnexpectedSender, $"client {sender} already sent its {Stage} message");
        }

        if (signed is not null)
        {
            VerifyOrThrow(sender, signed, signature!);
        }
    }

    private void VerifyOrThrow(int sender, SecAggMessage message, byte[] signature)
    {
        if (!_round.Verify(sender, message, signature))
        {
            throw new SecAggException(SecAggErrorCode.BadSignature, $"the {message.Stage} message of {sender} is not signed by its attested key");
        }
    }

    private int[] LiveNeighbours(int u, IEnumerable<int> live)
    {
        var set = live as ICollection<int> ?? [.. live];
        return [.. _round.Graph.NeighboursOf(u).Where(set.Contains)];
    }

    /// <summary>Every client in <paramref name="clients"/> needs t holders among itself and its live neighbours.</summary>
    private void RequireEveryone(int[] clients, int[] live, string what)
    {
        var liveSet = new HashSet<int>(live);
        foreach (int u in clients)
        {
            int holders = 1 + _round.Graph.NeighboursOf(u).Count(liveSet.Contains);
            if (holders < _round.Parameters.Threshold)
            {
                Abort($"client {u} has {holders} live share holders among those that {what}, threshold {_round.Parameters.Threshold}");
            }
        }
    }

    /// <summary>Every secret the sum will need must still have t live holders.</summary>
    private void RequireRecoverable(int[] live, string what)
    {
        var liveSet = new HashSet<int>(live);
        var survivors = new HashSet<int>(_u3);
        foreach (int u in _u2)
        {
            int[] around = _round.Graph.NeighboursOf(u);
            if (!survivors.Contains(u) && !around.Any(survivors.Contains))
            {
                continue;
            }

            int holders = around.Count(liveSet.Contains) + (survivors.Contains(u) && liveSet.Contains(u) ? 1 : 0);
            if (holders < _round.Parameters.Threshold)
            {
                Abort($"client {u} has {holders} live share holders among those that {what}, threshold {_round.Parameters.Threshold}");
            }
        }
    }

    private void Close(SecAggStage stage)
    {
        CheckLive();
        if (Stage != stage)
        {
            throw new SecAggException(SecAggErrorCode.WrongStage, $"cannot close stage {stage} while in stage {Stage?.ToString() ?? "finished"}");
        }
    }

    private void CheckLive()
    {
        if (IsAborted)
        {
            throw new SecAggException(SecAggErrorCode.Aborted, "the round was aborted");
        }

        if (Stage is null)
        {
            throw new SecAggException(SecAggErrorCode.WrongStage, "the round is finished");
        }
    }

    private void Abort(string why)
    {
        IsAborted = true;
        _sum = null;
        throw new SecAggException(SecAggErrorCode.BelowThreshold, $"round {_round.RoundId} aborted: {why}");
    }
}
