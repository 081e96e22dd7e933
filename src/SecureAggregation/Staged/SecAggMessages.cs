// Messages of the staged secure-aggregation protocol (Bonawitz et al. CCS 2017, with SecAgg+ neighbourhoods).
// Encoding (docs/formats.md section 9), integers little-endian:
//   magic "ENCSAGG1" (8) | type (1) | stage (1) | round-id length L (1, 1..128) | round id UTF-8 (L) | body
// Client messages end with a 64-byte ECDSA P-256 signature (IEEE P1363) by the sender's attested signing key,
// made with MessageSignature under the kind "secagg/<type>" over every preceding byte. Trailing bytes, unknown
// types, a stage that does not match the type, and counts beyond the cohort bound are rejected.
namespace Enclave.SecureAggregation.Staged;

/// <summary>The five stages of a round, in order.</summary>
public enum SecAggStage : byte
{
    AdvertiseKeys = 1,
    ShareKeys = 2,
    MaskedInput = 3,
    ConsistencyCheck = 4,
    Unmask = 5,
}

/// <summary>Which secret of a client a revealed share belongs to.</summary>
public enum ShareKind : byte
{
    /// <summary>The self-mask seed b_u (revealed for survivors).</summary>
    SelfMask = 1,

    /// <summary>The mask-agreement private key s_u (revealed for dropped clients).</summary>
    MaskKey = 2,
}

/// <summary>A message of a staged round.</summary>
public abstract record SecAggMessage(string RoundId)
{
    public abstract SecAggStage Stage { get; }

    internal abstract byte Type { get; }
}

/// <summary>Stage 1, client to server: the client's encryption (c) and masking (s) public keys.</summary>
public sealed record AdvertiseKeys(string RoundId, int Sender, byte[] EncryptionKey, byte[] MaskingKey, byte[] Signature) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.AdvertiseKeys;

    internal override byte Type => 1;
}

/// <summary>Server to client, opening stage 2: the advertised keys of the recipient's live neighbours.</summary>
public sealed record KeyDirectory(string RoundId, int Recipient, IReadOnlyList<AdvertiseKeys> Keys) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.ShareKeys;

    internal override byte Type => 2;
}

/// <summary>One encrypted share pair addressed to (or from) a neighbour.</summary>
public sealed record EncryptedShare(int Peer, byte[] Ciphertext);

/// <summary>Stage 2, client to server: the sender's shares, each encrypted to one neighbour.</summary>
public sealed record ShareKeys(string RoundId, int Sender, IReadOnlyList<EncryptedShare> Shares, byte[] Signature) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.ShareKeys;

    internal override byte Type => 3;
}

/// <summary>Server to client, opening stage 3: the shares neighbours encrypted to the recipient.</summary>
public sealed record ShareDelivery(string RoundId, int Recipient, IReadOnlyList<EncryptedShare> Shares) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.MaskedInput;

    internal override byte Type => 4;
}

/// <summary>Stage 3, client to server: y = x + PRG(b) + sum of +/- PRG(s_uv) in Z_2^k.</summary>
public sealed record MaskedInput(string RoundId, int Sender, int RingBits, uint[] Vector, byte[] Signature) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.MaskedInput;

    internal override byte Type => 5;
}

/// <summary>Server to client, opening stage 4: the clients whose masked inputs the server holds (ascending).</summary>
public sealed record SurvivorSet(string RoundId, int Recipient, IReadOnlyList<int> Survivors) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.ConsistencyCheck;

    internal override byte Type => 6;
}

/// <summary>Stage 4, client to server: the sender's signature over the survivor set (by its SHA-256 digest).</summary>
public sealed record ConsistencySignature(string RoundId, int Sender, byte[] SurvivorDigest, byte[] Signature) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.ConsistencyCheck;

    internal override byte Type => 7;
}

/// <summary>A neighbour's signature over the survivor set, relayed by the server.</summary>
public sealed record SurvivorSignature(int Signer, byte[] Signature);

/// <summary>Server to client, opening stage 5: the signed survivor set and the shares asked for.</summary>
public sealed record UnmaskRequest(
    string RoundId,
    int Recipient,
    IReadOnlyList<int> Survivors,
    IReadOnlyList<SurvivorSignature> Signatures,
    IReadOnlyList<int> SelfMaskOf,
    IReadOnlyList<int> MaskKeyOf) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.Unmask;

    internal override byte Type => 8;
}

/// <summary>One revealed share.</summary>
public sealed record RevealedShare(int Owner, ShareKind Kind, byte[] Value);

/// <summary>Stage 5, client to server: the revealed shares.</summary>
public sealed record UnmaskResponse(string RoundId, int Sender, IReadOnlyList<RevealedShare> Shares, byte[] Signature) : SecAggMessage(RoundId)
{
    public override SecAggStage Stage => SecAggStage.Unmask;

    internal override byte Type => 9;
}
