// The public description of one staged round that every client and the server agree on before it starts:
// round id, cohort parameters, graph seed, vector length and ring, and each client's attested verification key.
using System.Security.Cryptography;
using System.Text;

namespace Enclave.SecureAggregation.Staged;

/// <summary>What every party of a round knows in advance. Client i (1-based) verifies with VerificationKeys[i - 1].</summary>
public sealed class SecAggRound
{
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public SecAggRound(string roundId, SecAggParameters parameters, ReadOnlySpan<byte> graphSeed, int vectorLength, int ringBits, IReadOnlyList<ECDsa> verificationKeys)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(verificationKeys);
        int idBytes = Encoding.UTF8.GetByteCount(roundId ?? string.Empty);
        if (idBytes < 1 || idBytes > SecAggCodec.MaxRoundIdLength)
        {
            throw new ArgumentException($"the round id is 1..{SecAggCodec.MaxRoundIdLength} UTF-8 bytes", nameof(roundId));
        }

        if (vectorLength < 1 || vectorLength > SecAggCodec.MaxVectorLength)
        {
            throw new ArgumentOutOfRangeException(nameof(vectorLength), vectorLength, $"the vector length is 1..{SecAggCodec.MaxVectorLength}");
        }

        if (ringBits < SecAggCodec.MinRingBits || ringBits > SecAggCodec.MaxRingBits)
        {
            throw new ArgumentOutOfRangeException(nameof(ringBits), ringBits, $"the ring has {SecAggCodec.MinRingBits}..{SecAggCodec.MaxRingBits} bits");
        }

        if (verificationKeys.Count != parameters.CohortSize)
        {
            throw new ArgumentException($"{verificationKeys.Count} verification keys for a cohort of {parameters.CohortSize}", nameof(verificationKeys));
        }

        RoundId = roundId!;
        Parameters = parameters;
        Graph = new NeighbourGraph(parameters, graphSeed);
        VectorLength = vectorLength;
        RingBits = ringBits;
        VerificationKeys = verificationKeys;
    }

    public string RoundId { get; }

    public SecAggParameters Parameters { get; }

    public NeighbourGraph Graph { get; }

    public int VectorLength { get; }

    public int RingBits { get; }

    public uint RingMask => RingBits == 32 ? uint.MaxValue : (1u << RingBits) - 1;

    public IReadOnlyList<ECDsa> VerificationKeys { get; }

    internal bool Verify(int signer, SecAggMessage message, byte[] signature) =>
        signer >= 1 && signer <= VerificationKeys.Count
        && MessageSignature.VerifyDigest(VerificationKeys[signer - 1], Digest(message), signature);

    internal static byte[] Sign(ECDsa key, SecAggMessage unsigned) => MessageSignature.SignDigest(key, Digest(unsigned));

    private static byte[] Digest(SecAggMessage message)
    {
        using IncrementalHash hash = MessageSignature.CreateHash(SecAggCodec.SignatureKind(message));
        SecAggCodec.AppendSignedBytes(hash, message);
        return hash.GetHashAndReset();
    }
}
