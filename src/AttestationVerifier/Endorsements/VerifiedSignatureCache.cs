using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Enclave.AttestationVerifier.Endorsements;

/// <summary>
/// Remembers signatures over endorsements (certificates by their issuers, CRLs, collateral documents) that
/// have verified, keyed by SHA-256 of the exact signed object and the exact signer certificate, so warm
/// collateral is not re-verified on every piece of evidence. Only successes are kept (a failure is always
/// recomputed), the key covers every byte that the verification depended on, and time checks (validity,
/// nextUpdate) are never cached: callers still make them at each instant. Bounded: emptied when full.
/// </summary>
internal static class VerifiedSignatureCache
{
    public const int Capacity = 4096;

    private static readonly ConcurrentDictionary<Digest, byte> s_verified = new();

    /// <summary>Whether <paramref name="verify"/> succeeds for this (object, signer) pair; runs it only when the pair
    /// has not verified before.</summary>
    public static bool Verify(ReadOnlySpan<byte> signedObject, ReadOnlySpan<byte> signer, Func<bool> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        Digest digest = Digest.Of(signedObject, signer);
        if (s_verified.ContainsKey(digest))
        {
            return true;
        }

        if (!verify())
        {
            return false;
        }

        if (s_verified.Count >= Capacity)
        {
            s_verified.Clear();
        }

        s_verified.TryAdd(digest, 0);
        return true;
    }

    /// <summary>As <see cref="Verify(ReadOnlySpan{byte}, ReadOnlySpan{byte}, Func{bool})"/> for a detached
    /// signature: the key covers the signed data, the signature and the signer.</summary>
    public static bool Verify(ReadOnlySpan<byte> signedData, ReadOnlySpan<byte> signature, ReadOnlySpan<byte> signer, Func<bool> verify)
    {
        byte[] both = new byte[signedData.Length + signature.Length];
        signedData.CopyTo(both);
        signature.CopyTo(both.AsSpan(signedData.Length));
        return Verify(both, signer, verify);
    }

    /// <summary>Forgets everything (tests and benchmarks that measure cold verification).</summary>
    public static void Clear() => s_verified.Clear();

    private readonly record struct Digest(ulong A, ulong B, ulong C, ulong D)
    {
        public static Digest Of(ReadOnlySpan<byte> signedObject, ReadOnlySpan<byte> signer)
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64BigEndian(length, signedObject.Length);
            hash.AppendData(length);
            hash.AppendData(signedObject);
            hash.AppendData(signer);
            Span<byte> value = stackalloc byte[32];
            hash.GetHashAndReset(value);
            return new Digest(
                BinaryPrimitives.ReadUInt64LittleEndian(value),
                BinaryPrimitives.ReadUInt64LittleEndian(value[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(value[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(value[24..]));
        }
    }
}
