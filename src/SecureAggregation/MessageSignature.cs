// Signatures on secure-aggregation messages: ECDSA P-256 / SHA-256 (IEEE P1363 r||s) by the sender enclave's
// attested signing key, over a domain-separated encoding "enclave-round-v1" 0x00 kind 0x00 payload, so a
// signature for one kind of message can never be replayed as another.
using System.Security.Cryptography;
using System.Text;

namespace Enclave.SecureAggregation;

public static class MessageSignature
{
    public const int SignatureLength = 64;
    private static readonly byte[] s_domain = Encoding.ASCII.GetBytes("enclave-round-v1\0");

    public static byte[] Sign(ECDsa key, string kind, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrEmpty(kind);
        return key.SignData(Encode(kind, payload), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    public static bool Verify(ECDsa key, string kind, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrEmpty(kind);
        if (signature.Length != SignatureLength || IsZero(signature[..32]) || IsZero(signature[32..]))
        {
            return false;
        }

        return key.VerifyData(Encode(kind, payload), signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>A SHA-256 hash already fed with the domain and kind; append the payload, then use SignDigest or VerifyDigest.</summary>
    public static IncrementalHash CreateHash(string kind)
    {
        ArgumentException.ThrowIfNullOrEmpty(kind);
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(s_domain);
        hash.AppendData(Encoding.ASCII.GetBytes(kind));
        hash.AppendData([0]);
        return hash;
    }

    /// <summary>Signs a digest from <see cref="CreateHash"/>; equal in meaning to <see cref="Sign"/> over the same payload.</summary>
    public static byte[] SignDigest(ECDsa key, ReadOnlySpan<byte> digest)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.SignHash(digest.ToArray(), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    public static bool VerifyDigest(ECDsa key, ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (signature.Length != SignatureLength || IsZero(signature[..32]) || IsZero(signature[32..]))
        {
            return false;
        }

        return key.VerifyHash(digest, signature, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    private static byte[] Encode(string kind, ReadOnlySpan<byte> payload)
    {
        byte[] kindBytes = Encoding.ASCII.GetBytes(kind);
        byte[] buffer = new byte[s_domain.Length + kindBytes.Length + 1 + payload.Length];
        s_domain.CopyTo(buffer, 0);
        kindBytes.CopyTo(buffer, s_domain.Length);
        buffer[s_domain.Length + kindBytes.Length] = 0;
        payload.CopyTo(buffer.AsSpan(s_domain.Length + kindBytes.Length + 1));
        return buffer;
    }

    private static bool IsZero(ReadOnlySpan<byte> value) => value.IndexOfAnyExcept((byte)0) < 0;
}
