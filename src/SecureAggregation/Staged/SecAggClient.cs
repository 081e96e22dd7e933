// The client state machine of the staged protocol (Bonawitz et al. CCS 2017, section 4; neighbourhoods of
// SecAgg+). Pure: it consumes and produces messages, never performs I/O. A message for another round or stage
// is rejected and leaves the client as it was; anything else that is wrong aborts the client for the round
// (fail closed), after which it reveals nothing more.
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Enclave.SecureAggregation.Staged;

/// <summary>One client of one round.</summary>
public sealed class SecAggClient : IDisposable
{
    private readonly SecAggRound _round;
    private readonly ECDsa _signingKey;
    private readonly HashSet<int> _neighbours;
    private readonly Dictionary<int, AdvertiseKeys> _peerKeys = new();
    private readonly Dictionary<int, (Field521 SelfMask, Field521 MaskKey)> _held = new();
    private readonly Dictionary<int, byte[]> _shareKeys = new();

    // Pairwise mask seeds s_uv, agreed with every neighbour as soon as its keys arrive (stage 2), so that masking
    // (stage 3) is pure mask expansion; the masking private key is released right after.
    private readonly Dictionary<int, byte[]> _pairSeeds = new();
    private ECDiffieHellman? _encryptionKey;
    private ECDiffieHellman? _maskingKey;
    private byte[]? _selfSeed;
    private int[] _survivors = [];
    private State _state = State.Advertise;

    /// <param name="round">The round every party agreed on.</param>
    /// <param name="self">This client's index (1-based).</param>
    /// <param name="signingKey">This client's attested signing key (private).</param>
    public SecAggClient(SecAggRound round, int self, ECDsa signingKey)
    {
        ArgumentNullException.ThrowIfNull(round);
        ArgumentNullException.ThrowIfNull(signingKey);
        if (self < 1 || self > round.Parameters.CohortSize)
        {
            throw new ArgumentOutOfRangeException(nameof(self), self, $"clients are numbered 1..{round.Parameters.CohortSize}");
        }

        _round = round;
        Self = self;
        _signingKey = signingKey;
        _neighbours = [.. round.Graph.NeighboursOf(self)];
    }

    private enum State
    {
        Advertise,
        AwaitKeys,
        AwaitShares,
        AwaitSurvivors,
        AwaitUnmask,
        Done,
        Aborted,
    }

    public int Self { get; }

    public bool IsAborted => _state == State.Aborted;

    /// <summary>Stage 1: creates the two key pairs and advertises their public halves.</summary>
    public AdvertiseKeys Advertise()
    {
        Expect(State.Advertise, SecAggStage.AdvertiseKeys);
        _encryptionKey = SecAggCrypto.NewKey();
        _maskingKey = SecAggCrypto.NewKey();
        var unsigned = new AdvertiseKeys(_round.RoundId, Self, SecAggCrypto.PublicKeyBytes(_encryptionKey), SecAggCrypto.PublicKeyBytes(_maskingKey), []);
        _state = State.AwaitKeys;
        return unsigned with { Signature = SecAggRound.Sign(_signingKey, unsigned) };
    }

    /// <summary>Stage 2: checks the neighbours' keys and shares b and s_sk among them.</summary>
    public ShareKeys HandleKeys(KeyDirectory message)
    {
        Check(message, State.AwaitKeys, message.Recipient);
        return Guard(() =>
        {
            foreach (AdvertiseKeys keys in message.Keys)
            {
                if (!_neighbours.Contains(keys.Sender) || _peerKeys.ContainsKey(keys.Sender))
                {
                    throw new SecAggException(SecAggErrorCode.UnexpectedSender, $"client {Self}: keys of {keys.Sender}, which is not a neighbour or appears twice");
                }

                if (keys.RoundId != _round.RoundId || !_round.Verify(keys.Sender, keys, keys.Signature))
                {
                    throw new SecAggException(SecAggErrorCode.BadSignature, $"client {Self}: the keys of {keys.Sender} are not signed by its attested key");
                }

                if (keys.EncryptionKey.AsSpan().SequenceEqual(keys.MaskingKey))
                {
                    throw new SecAggException(SecAggErrorCode.Inconsistent, $"client {Self}: {keys.Sender} advertised the same key twice");
                }

                _peerKeys.Add(keys.Sender, keys);
            }

            RequireHolders(_peerKeys.Count + 1, "live neighbours after key advertisement");
            int[] holders = [.. _peerKeys.Keys.Append(Self).Order()];
            _selfSeed = RandomNumberGenerator.GetBytes(MaskPrg.SeedLength);
            byte[] scalar = _maskingKey!.ExportParameters(true).D!;
            Field521[] selfShares = Shamir.Split(Field521.FromBigEndian(_selfSeed), _round.Parameters.Threshold, holders);
            Field521[] keyShares = Shamir.Split(Field521.FromBigEndian(scalar), _round.Parameters.Threshold, holders);
            CryptographicOperations.ZeroMemory(scalar);
            var encrypted = new List<EncryptedShare>(holders.Length - 1);
            for (int i = 0; i < holders.Length; i++)
            {
                int holder = holders[i];
                if (holder == Self)
                {
                    _held[Self] = (selfShares[i], keyShares[i]);
                    continue;
                }

                using ECDiffieHellman peer = SecAggCrypto.ImportPublic(_peerKeys[holder].EncryptionKey, $"encryption key of {holder}");
                byte[] key = SecAggCrypto.ShareKey(_encryptionKey!, peer, _round.RoundId, Self, holder);
                encrypted.Add(new EncryptedShare(holder, SecAggCrypto.EncryptShare(key, _round.RoundId, Self, holder, selfShares[i], keyShares[i])));
                _shareKeys[holder] = key;
                using ECDiffieHellman peerMasking = SecAggCrypto.ImportPublic(_peerKeys[holder].MaskingKey, $"masking key of {holder}");
                _pairSeeds[holder] = SecAggCrypto.MaskSeed(_maskingKey!, peerMasking, _round.RoundId, Self, holder);
            }

            _maskingKey!.Dispose();
            _maskingKey = null;

            Array.Clear(selfShares);
            Array.Clear(keyShares);
            var unsigned = new ShareKeys(_round.RoundId, Self, encrypted, []);
            _state = State.AwaitShares;
            return unsigned with { Signature = SecAggRound.Sign(_signingKey, unsigned) };
        });
    }

    /// <summary>Stage 3: stores the neighbours' shares and masks <paramref name="input"/> (ring elements).</summary>
    public MaskedInput HandleShares(ShareDelivery message, ReadOnlySpan<uint> input)
    {
        Check(message, State.AwaitShares, message.Recipient);
        if (input.Length != _round.VectorLength)
        {
            throw new ArgumentException($"the input has {input.Length} elements, the round {_round.VectorLength}", nameof(input));
        }

        if (!FitsRing(input, _round.RingMask))
        {
            throw new ArgumentException($"an input element exceeds the {_round.RingBits}-bit ring", nameof(input));
        }

        uint[] vector = input.ToArray();
        return Guard(() =>
        {
            ReceiveShares(message);
            ApplyMasks(vector);
            var unsigned = new MaskedInput(_round.RoundId, Self, _round.RingBits, vector, []);
            _state = State.AwaitSurvivors;
            return unsigned with { Signature = SecAggRound.Sign(_signingKey, unsigned) };
        });
    }

    /// <summary>Stage 4: checks the survivor set against what this client saw and signs it.</summary>
    public ConsistencySignature HandleSurvivors(SurvivorSet message)
    {
        Check(message, State.AwaitSurvivors, message.Recipient);
        return Guard(() =>
        {
            int[] survivors = CheckAscending(message.Survivors, "survivor set");
            if (Array.BinarySearch(survivors, Self) < 0)
            {
                throw new SecAggException(SecAggErrorCode.Inconsistent, $"client {Self} is not in the survivor set it was sent");
            }

            int live = 1;
            foreach (int s in survivors)
            {
                if (_neighbours.Contains(s))
                {
                    if (!_held.ContainsKey(s))
                    {
                        throw new SecAggException(SecAggErrorCode.Inconsistent, $"client {Self}: survivor {s} never shared its secrets with it");
                    }

                    live++;
                }
            }

            RequireHolders(live, "surviving neighbours");
            _survivors = survivors;
            byte[] digest = SecAggCodec.SurvivorDigest(_round.RoundId, survivors);
            var unsigned = new ConsistencySignature(_round.RoundId, Self, digest, []);
            _state = State.AwaitUnmask;
            return unsigned with { Signature = SecAggRound.Sign(_signingKey, unsigned) };
        });
    }

    /// <summary>Stage 5: reveals b-shares of survivors and s-shares of dropped neighbours, never both for one client.</summary>
    public UnmaskResponse HandleUnmask(UnmaskRequest message)
    {
        Check(message, State.AwaitUnmask, message.Recipient);
        return Guard(() =>
        {
            if (!message.Survivors.SequenceEqual(_survivors))
            {
                throw new SecAggException(SecAggErrorCode.Inconsistent, $"client {Self}: the unmask request names another survivor set than the one it signed");
            }

            byte[] digest = SecAggCodec.SurvivorDigest(_round.RoundId, _survivors);
            var signers = new HashSet<int>();
            foreach (SurvivorSignature s in message.Signatures)
            {
                if ((s.Signer != Self && !_neighbours.Contains(s.Signer)) || Array.BinarySearch(_survivors, s.Signer) < 0 || !signers.Add(s.Signer))
                {
                    throw new SecAggException(SecAggErrorCode.UnexpectedSender, $"client {Self}: survivor-set signature by {s.Signer}, not a surviving neighbour or repeated");
                }

                var signed = new ConsistencySignature(_round.RoundId, s.Signer, digest, []);
                if (!_round.Verify(s.Signer, signed, s.Signature))
                {
                    throw new SecAggException(SecAggErrorCode.BadSignature, $"client {Self}: the survivor-set signature of {s.Signer} does not verify");
                }
            }

            if (signers.Count < _round.Parameters.Threshold)
            {
                throw new SecAggException(SecAggErrorCode.BelowThreshold, $"client {Self}: only {signers.Count} neighbours signed the survivor set, {_round.Parameters.Threshold} needed");
            }

            var selfMask = new HashSet<int>();
            foreach (int owner in message.SelfMaskOf)
            {
                if (!selfMask.Add(owner))
                {
                    throw new SecAggException(SecAggErrorCode.Inconsistent, $"client {Self}: self-mask share of {owner} asked for twice");
                }
            }

            var maskKey = new HashSet<int>();
            foreach (int owner in message.MaskKeyOf)
            {
                if (selfMask.Contains(owner))
                {
                    throw new SecAggException(SecAggErrorCode.DoubleRequest, $"client {Self} refuses: the request asks for both the self-mask and the mask-key share of {owner}");
                }

                if (!maskKey.Add(owner))
                {
                    throw new SecAggException(SecAggErrorCode.Inconsistent, $"client {Self}: mask-key share of {owner} asked for twice");
                }
            }

            var shares = new List<RevealedShare>(selfMask.Count + maskKey.Count);
            var buffer = new byte[Field521.EncodedLength];
            foreach (int owner in message.SelfMaskOf)
            {
                if (Array.BinarySearch(_survivors, owner) < 0 || !_held.TryGetValue(owner, out var held))
                {
                    throw new SecAggException(SecAggErrorCode.Inconsistent, $"client {Self} refuses: self-mask share of {owner}, which is not a survivor it holds shares of");
                }

                held.SelfMask.WriteBigEndian(buffer);
                shares.Add(new RevealedShare(owner, ShareKind.SelfMask, (byte[])buffer.Clone()));
            }

            foreach (int owner in message.MaskKeyOf)
            {
                if (Array.BinarySearch(_survivors, owner) >= 0 || owner == Self || !_held.TryGetValue(owner, out var held))
                {
                    throw new SecAggException(SecAggErrorCode.Inconsistent, $"client {Self} refuses: mask-key share of {owner}, which survived or shared nothing with it");
                }

                held.MaskKey.WriteBigEndian(buffer);
                shares.Add(new RevealedShare(owner, ShareKind.MaskKey, (byte[])buffer.Clone()));
            }

            var unsigned = new UnmaskResponse(_round.RoundId, Self, shares, []);
            _state = State.Done;
            return unsigned with { Signature = SecAggRound.Sign(_signingKey, unsigned) };
        });
    }

    public void Dispose()
    {
        ForgetShareKeys();
        ForgetPairSeeds();
        _encryptionKey?.Dispose();
        _maskingKey?.Dispose();
        if (_selfSeed is not null)
        {
            CryptographicOperations.ZeroMemory(_selfSeed);
        }

        _held.Clear();
    }

    private void ReceiveShares(ShareDelivery message)
    {
        foreach (EncryptedShare share in message.Shares)
        {
            if (!_peerKeys.TryGetValue(share.Peer, out AdvertiseKeys? keys) || _held.ContainsKey(share.Peer))
            {
                throw new SecAggException(SecAggErrorCode.UnexpectedSender, $"client {Self}: a share from {share.Peer}, which did not advertise keys to it or sent twice");
            }

            _held[share.Peer] = SecAggCrypto.DecryptShare(_shareKeys[share.Peer], _round.RoundId, share.Peer, Self, share.Ciphertext);
        }

        ForgetShareKeys();

        RequireHolders(_held.Count, "neighbours that shared their secrets");
    }

    private void ForgetPairSeeds()
    {
        foreach (byte[] seed in _pairSeeds.Values)
        {
            CryptographicOperations.ZeroMemory(seed);
        }

        _pairSeeds.Clear();
    }

    private void ForgetShareKeys()
    {
        foreach (byte[] key in _shareKeys.Values)
        {
            CryptographicOperations.ZeroMemory(key);
        }

        _shareKeys.Clear();
    }

    private void ApplyMasks(uint[] vector)
    {
        // Only neighbours that shared their secrets (and so can be unmasked if they drop) get a pairwise mask.
        var masks = new List<MaskSeed>(_held.Count) { new(_selfSeed!, Add: true) };
        foreach (int peer in _held.Keys.Order())
        {
            if (peer != Self)
            {
                masks.Add(new MaskSeed(_pairSeeds[peer], Add: Self < peer));
            }
        }

        using (var prg = new MaskPrg())
        {
            prg.ApplyAll(vector, CollectionsMarshal.AsSpan(masks));
        }

        ForgetPairSeeds();

        uint mask = _round.RingMask;
        if (mask != uint.MaxValue)
        {
            for (int i = 0; i < vector.Length; i++)
            {
                vector[i] &= mask;
            }
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static bool FitsRing(ReadOnlySpan<uint> input, uint ringMask)
    {
        if (ringMask == uint.MaxValue)
        {
            return true;
        }

        uint any = 0;
        foreach (uint v in input)
        {
            any |= v;
        }

        return (any & ~ringMask) == 0;
    }

    private void RequireHolders(int live, string what)
    {
        if (live < _round.Parameters.Threshold)
        {
            throw new SecAggException(SecAggErrorCode.BelowThreshold, $"client {Self}: {live} {what} (itself included), threshold {_round.Parameters.Threshold}");
        }
    }

    private static int[] CheckAscending(IReadOnlyList<int> ids, string what)
    {
        var result = new int[ids.Count];
        for (int i = 0; i < ids.Count; i++)
        {
            if (i > 0 && ids[i] <= ids[i - 1])
            {
                throw new SecAggException(SecAggErrorCode.Malformed, $"the {what} is not strictly ascending");
            }

            result[i] = ids[i];
        }

        return result;
    }

    private void Expect(State state, SecAggStage stage)
    {
        if (_state == State.Aborted)
        {
            throw new SecAggException(SecAggErrorCode.Aborted, $"client {Self} aborted this round");
        }

        if (_state != state)
        {
            throw new SecAggException(SecAggErrorCode.WrongStage, $"client {Self} is in state {_state}, not ready for stage {stage}");
        }
    }

    private void Check(SecAggMessage message, State state, int recipient)
    {
        ArgumentNullException.ThrowIfNull(message);
        Expect(state, message.Stage);
        if (message.RoundId != _round.RoundId)
        {
            throw new SecAggException(SecAggErrorCode.WrongRound, $"client {Self}: message of round {message.RoundId}, this is {_round.RoundId}");
        }

        if (recipient != Self)
        {
            throw new SecAggException(SecAggErrorCode.UnexpectedSender, $"client {Self}: message addressed to {recipient}");
        }
    }

    private T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch
        {
            _state = State.Aborted;
            throw;
        }
    }
}
