// Pairwise mask seeds: HKDF-SHA256 over the raw ECDH (P-256) shared secret of two participants' secure-aggregation
// keys, salted with the round id and bound to both participants' identities in a canonical order, so both sides
// derive the same 32-byte seed and no seed is reused across rounds or pairs.
using System.Security.Cryptography;
using System.Text;

namespace Enclave.SecureAggregation;

public static class PairwiseSeed
{
    private const string Label = "enclave-secagg-v1 pairwise";

    public static byte[] Derive(ECDiffieHellman own, ECDiffieHellmanPublicKey peer, string roundId, string ownId, string peerId)
    {
        ArgumentNullException.ThrowIfNull(own);
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentException.ThrowIfNullOrEmpty(roundId);
        ArgumentException.ThrowIfNullOrEmpty(ownId);
        ArgumentException.ThrowIfNullOrEmpty(peerId);
        if (string.Equals(ownId, peerId, StringComparison.Ordinal))
        {
            throw new ArgumentException("a participant has no pairwise mask with itself", nameof(peerId));
        }

        byte[] secret = own.DeriveRawSecretAgreement(peer);
        try
        {
            (string first, string second) = string.CompareOrdinal(ownId, peerId) < 0 ? (ownId, peerId) : (peerId, ownId);
            byte[] salt = SHA256.HashData(Encoding.UTF8.GetBytes(roundId));
            byte[] info = Encoding.UTF8.GetBytes($"{Label}\0{first}\0{second}");
            return HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, MaskExpander.SeedLength, salt, info);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>True when the participant with <paramref name="ownId"/> adds (rather than subtracts) the pair's mask.</summary>
    public static bool Adds(string ownId, string peerId) => string.CompareOrdinal(ownId, peerId) < 0;
}
