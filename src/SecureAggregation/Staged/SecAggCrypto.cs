// Key handling of the staged protocol. Public keys are uncompressed SEC1 P-256 points (0x04 || X || Y, 65 bytes).
//   share key  = HKDF-SHA256(ECDH(c_u, c_v), salt = SHA-256(round id),
//                            info = "enclave-secagg-v2 share" 0x00 u32 min(u,v) u32 max(u,v))   32 bytes, AES-256-GCM
//   mask seed  = HKDF-SHA256(ECDH(s_u, s_v), salt = SHA-256(round id),
//                            info = "enclave-secagg-v2 mask" 0x00 u32 min(u,v) u32 max(u,v))    32 bytes, PRG seed
// Encrypted share: nonce (12, random) || ciphertext of (u32 owner || u32 holder || b-share (66) || s-share (66))
// || tag (16), AAD = "enclave-secagg-v2 share-aad" 0x00 || u8 len || round id || u32 owner || u32 holder || u8 stage.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Enclave.SecureAggregation.Staged;

internal static class SecAggCrypto
{
    private static readonly byte[] s_shareLabel = "enclave-secagg-v2 share\0"u8.ToArray();
    private static readonly byte[] s_maskLabel = "enclave-secagg-v2 mask\0"u8.ToArray();
    private static readonly byte[] s_aadLabel = "enclave-secagg-v2 share-aad\0"u8.ToArray();

    public static ECDiffieHellman NewKey() => ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);

    public static byte[] PublicKeyBytes(ECDiffieHellman key)
    {
        ECParameters p = key.ExportParameters(false);
        var bytes = new byte[SecAggCodec.PublicKeyLength];
        bytes[0] = 0x04;
        p.Q.X!.CopyTo(bytes, 1);
        p.Q.Y!.CopyTo(bytes, 33);
        return bytes;
    }

    /// <exception cref="SecAggException">Malformed: not a valid P-256 point.</exception>
    public static ECDiffieHellman ImportPublic(byte[] point, string what)
    {
        if (point.Length != SecAggCodec.PublicKeyLength || point[0] != 0x04)
        {
            throw new SecAggException(SecAggErrorCode.Malformed, $"{what} is not an uncompressed P-256 point");
        }

        var parameters = new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = point[1..33], Y = point[33..65] },
        };
        var key = ECDiffieHellman.Create();
        try
        {
            key.ImportParameters(parameters);
            return key;
        }
        catch (CryptographicException)
        {
            key.Dispose();
            throw new SecAggException(SecAggErrorCode.Malformed, $"{what} is not a point on P-256");
        }
    }

    /// <summary>Rebuilds a private key from its scalar and advertised public point (the import checks they match).</summary>
    public static ECDiffieHellman ImportPrivate(byte[] scalar32, byte[] point, string what)
    {
        var parameters = new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            D = scalar32,
            Q = new ECPoint { X = point[1..33], Y = point[33..65] },
        };
        var key = ECDiffieHellman.Create();
        try
        {
            key.ImportParameters(parameters);
            return key;
        }
        catch (CryptographicException)
        {
            key.Dispose();
            throw new SecAggException(SecAggErrorCode.Inconsistent, $"{what}: the reconstructed key does not match the advertised key");
        }
    }

    public static byte[] ShareKey(ECDiffieHellman own, ECDiffieHellman peerPublic, string roundId, int a, int b) =>
        Derive(own, peerPublic, roundId, a, b, s_shareLabel);

    public static byte[] MaskSeed(ECDiffieHellman own, ECDiffieHellman peerPublic, string roundId, int a, int b) =>
        Derive(own, peerPublic, roundId, a, b, s_maskLabel);

    public static byte[] EncryptShare(byte[] key, string roundId, int owner, int holder, in Field521 selfMaskShare, in Field521 maskKeyShare)
    {
        Span<byte> plaintext = stackalloc byte[SecAggCodec.SharePlaintextLength];
        BinaryPrimitives.WriteUInt32LittleEndian(plaintext, (uint)owner);
        BinaryPrimitives.WriteUInt32LittleEndian(plaintext[4..], (uint)holder);
        selfMaskShare.WriteBigEndian(plaintext.Slice(8, Field521.EncodedLength));
        maskKeyShare.WriteBigEndian(plaintext.Slice(8 + Field521.EncodedLength, Field521.EncodedLength));
        var output = new byte[SecAggCodec.ShareCiphertextLength];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using var gcm = new AesGcm(key, 16);
        gcm.Encrypt(output.AsSpan(0, 12), plaintext, output.AsSpan(12, plaintext.Length), output.AsSpan(12 + plaintext.Length), Aad(roundId, owner, holder));
        CryptographicOperations.ZeroMemory(plaintext);
        return output;
    }

    /// <exception cref="SecAggException">BadShare: authentication failed or the share names other parties.</exception>
    public static (Field521 SelfMask, Field521 MaskKey) DecryptShare(byte[] key, string roundId, int owner, int holder, byte[] ciphertext)
    {
        if (ciphertext.Length != SecAggCodec.ShareCiphertextLength)
        {
            throw new SecAggException(SecAggErrorCode.BadShare, $"share from {owner} has the wrong length");
        }

        Span<byte> plaintext = stackalloc byte[SecAggCodec.SharePlaintextLength];
        try
        {
            using var gcm = new AesGcm(key, 16);
            gcm.Decrypt(ciphertext.AsSpan(0, 12), ciphertext.AsSpan(12, plaintext.Length), ciphertext.AsSpan(12 + plaintext.Length), plaintext, Aad(roundId, owner, holder));
            if (BinaryPrimitives.ReadUInt32LittleEndian(plaintext) != owner || BinaryPrimitives.ReadUInt32LittleEndian(plaintext[4..]) != holder)
            {
                throw new SecAggException(SecAggErrorCode.BadShare, $"share from {owner} names other parties");
            }

            return (Field521.FromBigEndian(plaintext.Slice(8, Field521.EncodedLength)), Field521.FromBigEndian(plaintext.Slice(8 + Field521.EncodedLength, Field521.EncodedLength)));
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new SecAggException(SecAggErrorCode.BadShare, $"share from {owner} to {holder} failed authentication");
        }
        catch (ArgumentException ex)
        {
            throw new SecAggException(SecAggErrorCode.BadShare, $"share from {owner} is out of the field: {ex.Message}");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static byte[] Aad(string roundId, int owner, int holder)
    {
        byte[] id = Encoding.UTF8.GetBytes(roundId);
        var aad = new byte[s_aadLabel.Length + 1 + id.Length + 9];
        s_aadLabel.CopyTo(aad, 0);
        int o = s_aadLabel.Length;
        aad[o++] = (byte)id.Length;
        id.CopyTo(aad, o);
        o += id.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(aad.AsSpan(o), (uint)owner);
        BinaryPrimitives.WriteUInt32LittleEndian(aad.AsSpan(o + 4), (uint)holder);
        aad[o + 8] = (byte)SecAggStage.ShareKeys;
        return aad;
    }

    private static byte[] Derive(ECDiffieHellman own, ECDiffieHellman peerPublic, string roundId, int a, int b, byte[] label)
    {
        // PublicKey makes a new handle-owning object on every read: dispose it here rather than leave 130,000 of
        // them to the finalizer during a large unmask.
        byte[] secret;
        using (ECDiffieHellmanPublicKey peer = peerPublic.PublicKey)
        {
            secret = own.DeriveRawSecretAgreement(peer);
        }

        try
        {
            var info = new byte[label.Length + 8];
            label.CopyTo(info, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(label.Length), (uint)Math.Min(a, b));
            BinaryPrimitives.WriteUInt32LittleEndian(info.AsSpan(label.Length + 4), (uint)Math.Max(a, b));
            return HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, 32, SHA256.HashData(Encoding.UTF8.GetBytes(roundId)), info);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }
}
