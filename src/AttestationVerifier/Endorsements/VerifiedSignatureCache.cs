using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements;

/// <summary>
/// Remembers signatures over endorsements (certificates by their issuers, CRLs, collateral documents) that
/// have verified, keyed by SHA-256 of the exact signed object and the exact signer certificate, so warm
/// collateral is not re-verified on every piece of evidence. Only successes are kept (a failure is always
/// recomputed), the key covers every byte that the verification depended on, each part length-prefixed so that
/// no two different inputs share a key, and time checks (validity, nextUpdate) are never cached: callers still
/// make them at each instant. Bounded: emptied when full. A parsed, immutable signed object (a CRL or collateral
/// document kept per endorsement set) is also remembered by identity with its signer certificate object, so a
/// warm call does not even hash it.
/// </summary>
internal static class VerifiedSignatureCache
{
    public const int Capacity = 4096;

    private const byte SignedObjectForm = 1;
    private const byte DetachedForm = 2;

    private static readonly ConcurrentDictionary<Digest, byte> s_verified = new();
    private static readonly ConditionalWeakTable<object, ConditionalWeakTable<X509Certificate2, object>> s_byIdentity = new();
    private static readonly object s_verifiedMark = new();

    /// <summary>Whether <paramref name="verify"/> succeeds for this (object, signer) pair; runs it only when the pair
    /// has not verified before.</summary>
    public static bool Verify(ReadOnlySpan<byte> signedObject, ReadOnlySpan<byte> signer, Func<bool> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        return VerifyCore(Digest.Of(SignedObjectForm, signedObject, [], signer), verify);
    }

    /// <summary>As <see cref="Verify(ReadOnlySpan{byte}, ReadOnlySpan{byte}, Func{bool})"/> for a detached
    /// signature: the key covers the signed data, the signature and the signer.</summary>
    public static bool Verify(ReadOnlySpan<byte> signedData, ReadOnlySpan<byte> signature, ReadOnlySpan<byte> signer, Func<bool> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        return VerifyCore(Digest.Of(DetachedForm, signedData, signature, signer), verify);
    }

    /// <summary>As the detached form, first by identity: <paramref name="owner"/> is the immutable parsed object
    /// the data and signature belong to, and <paramref name="signer"/> the certificate object that verified it.</summary>
    public static bool Verify(object owner, X509Certificate2 signer, ReadOnlySpan<byte> signedData, ReadOnlySpan<byte> signature, Func<bool> verify)
    {
        ArgumentNullException.ThrowIfNull(owner);
        ArgumentNullException.ThrowIfNull(signer);
        ConditionalWeakTable<X509Certificate2, object> signers = s_byIdentity.GetValue(owner, static _ => new());
        if (signers.TryGetValue(signer, out _))
        {
            return true;
        }

        if (!Verify(signedData, signature, signer.RawDataMemory.Span, verify))
        {
            return false;
        }

        signers.AddOrUpdate(signer, s_verifiedMark);
        return true;
    }

    /// <summary>Forgets everything (tests and benchmarks that measure cold verification).</summary>
    public static void Clear()
    {
        s_verified.Clear();
        s_byIdentity.Clear();
    }

    private static bool VerifyCore(Digest digest, Func<bool> verify)
    {
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

    /// <summary>SHA-256(form || len || part1 || len || part2 || len || signer), lengths as 64-bit big-endian.</summary>
    private readonly record struct Digest(ulong A, ulong B, ulong C, ulong D)
    {
        public static Digest Of(byte form, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> signer)
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hash.AppendData([form]);
            AppendPart(hash, first);
            AppendPart(hash, second);
            AppendPart(hash, signer);
            Span<byte> value = stackalloc byte[32];
            hash.GetHashAndReset(value);
            return new Digest(
                BinaryPrimitives.ReadUInt64LittleEndian(value),
                BinaryPrimitives.ReadUInt64LittleEndian(value[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(value[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(value[24..]));
        }

        private static void AppendPart(IncrementalHash hash, ReadOnlySpan<byte> part)
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteInt64BigEndian(length, part.Length);
            hash.AppendData(length);
            hash.AppendData(part);
        }
    }
}
