// JSON Web Encryption, compact serialisation (RFC 7516 section 7.1), content encryption A256GCM
// (RFC 7518 section 5.3: 256-bit CEK, 96-bit IV, 128-bit tag, AAD = ASCII of the encoded protected header).
// Key management (RFC 7518): "ECDH-ES+A256KW" (section 4.6: ephemeral key in "epk" on the recipient's
// curve P-256 or P-384, Concat KDF with AlgorithmID "ECDH-ES+A256KW" and keydatalen 256, the CEK wrapped
// with AES Key Wrap into 40 bytes) and "RSA-OAEP-256" (section 4.3: RSAES-OAEP with SHA-256 and MGF1-SHA-256).
// Tokens are at most 1 MiB. A failed decryption returns no plaintext.

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

/// <summary>Compact JWE with A256GCM to an EC (ECDH-ES+A256KW) or RSA (RSA-OAEP-256) recipient.</summary>
public static class Jwe
{
    public const int MaxCompactLength = 1024 * 1024;

    /// <summary>Largest plaintext whose JWE stays within <see cref="MaxCompactLength"/> for every supported key.</summary>
    public const int MaxPlaintextLength = 760 * 1024;
    public const string EcdhEsA256Kw = "ECDH-ES+A256KW";
    public const string RsaOaep256 = "RSA-OAEP-256";
    public const string A256Gcm = "A256GCM";

    private const int CekSize = 32;
    private const int IvSize = 12;
    private const int TagSize = 16;
    private const int WrappedCekSize = CekSize + 8;
    private const int MaxPartyInfoBytes = 1024;

    /// <summary>Encrypts to an EC (ECDH-ES+A256KW) or RSA (RSA-OAEP-256) public key with A256GCM.</summary>
    /// <exception cref="ArgumentException">The plaintext is longer than <see cref="MaxPlaintextLength"/>.</exception>
    /// <exception cref="JoseException">The key is marked for another use than "enc" (<see cref="JoseError.UnsupportedKey"/>).</exception>
    public static string Encrypt(ReadOnlySpan<byte> plaintext, Jwk recipient)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        if (recipient.Use is not null && recipient.Use != "enc")
        {
            throw new JoseException(JoseError.UnsupportedKey, $"The recipient key is for \"{recipient.Use}\", not \"enc\".");
        }

        if (plaintext.Length > MaxPlaintextLength)
        {
            throw new ArgumentException($"The plaintext is longer than {MaxPlaintextLength} bytes.", nameof(plaintext));
        }

        if (recipient.IsEc)
        {
            using ECDiffieHellman ephemeral = ECDiffieHellman.Create(recipient.RequireEc().Curve);
            return EncryptEcdhCore(plaintext, recipient, ephemeral, null, null);
        }

        return EncryptRsaCore(plaintext, recipient, null, null);
    }

    /// <summary>Decrypts a JWE with alg "ECDH-ES+A256KW" and enc "A256GCM".</summary>
    /// <exception cref="JoseException"><see cref="JoseError.DecryptionFailed"/> (wrong key, altered token, epk not
    /// on the recipient's curve), <see cref="JoseError.Malformed"/>, <see cref="JoseError.UnsupportedAlgorithm"/>,
    /// <see cref="JoseError.ForbiddenHeader"/>.</exception>
    public static byte[] Decrypt(string compact, ECDiffieHellman recipientKey)
    {
        ArgumentNullException.ThrowIfNull(compact);
        ArgumentNullException.ThrowIfNull(recipientKey);
        EcCurve curve = EcCurve.FromCurve(recipientKey.ExportParameters(false).Curve)
            ?? throw new JoseException(JoseError.UnsupportedKey, "The recipient key must be on P-256 or P-384.");
        ParsedJwe jwe = ParsedJwe.Parse(compact, EcdhEsA256Kw);
        return DecryptEcdhCore(jwe, recipientKey, curve);
    }

    /// <summary>Decrypts a JWE with alg "RSA-OAEP-256" and enc "A256GCM".</summary>
    /// <exception cref="JoseException">As for the EC overload.</exception>
    public static byte[] Decrypt(string compact, RSA recipientKey)
    {
        ArgumentNullException.ThrowIfNull(compact);
        ArgumentNullException.ThrowIfNull(recipientKey);
        if (recipientKey.KeySize < Jwk.MinRsaModulusBits)
        {
            throw new JoseException(JoseError.UnsupportedKey, $"The recipient RSA key must have at least {Jwk.MinRsaModulusBits} bits.");
        }

        ParsedJwe jwe = ParsedJwe.Parse(compact, RsaOaep256);
        return DecryptRsaCore(jwe, recipientKey);
    }

    internal static string EncryptEcdhCore(
        ReadOnlySpan<byte> plaintext,
        Jwk recipient,
        ECDiffieHellman ephemeral,
        byte[]? fixedCek,
        byte[]? fixedIv)
    {
        EcCurve curve = recipient.RequireEc();
        Jwk epk = Jwk.FromEcPublic(ephemeral.ExportParameters(false));
        if (epk.EcCurve != curve)
        {
            throw new ArgumentException("The ephemeral key is not on the recipient's curve.", nameof(ephemeral));
        }

        byte[] sharedSecret;
        using (ECDiffieHellman recipientKey = recipient.CreateECDiffieHellman())
        using (ECDiffieHellmanPublicKey recipientPublic = recipientKey.PublicKey)
        {
            sharedSecret = ephemeral.DeriveRawSecretAgreement(recipientPublic);
        }

        return EncryptEcdhCore(plaintext, recipient, epk, sharedSecret, fixedCek, fixedIv);
    }

    /// <summary>The JWE for an agreement already made: <paramref name="sharedSecret"/> is Z between the ephemeral
    /// key <paramref name="epk"/> and the recipient's, and is cleared here.</summary>
    internal static string EncryptEcdhCore(
        ReadOnlySpan<byte> plaintext,
        Jwk recipient,
        Jwk epk,
        byte[] sharedSecret,
        byte[]? fixedCek,
        byte[]? fixedIv)
    {
        var header = new JsonObject
        {
            ["alg"] = EcdhEsA256Kw,
            ["enc"] = A256Gcm,
        };
        if (recipient.Kid is not null)
        {
            header["kid"] = recipient.Kid;
        }

        header["epk"] = epk.ToJsonObject();
        byte[] kek = new byte[CekSize];
        byte[] cek = fixedCek ?? RandomNumberGenerator.GetBytes(CekSize);
        try
        {
            ConcatKdf.DeriveKey(sharedSecret, EcdhEsA256Kw, default, default, kek);
            byte[] encryptedKey = AesKeyWrap.Wrap(kek, cek);
            return Seal(header, encryptedKey, cek, plaintext, fixedIv);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
            CryptographicOperations.ZeroMemory(kek);
            if (fixedCek is null)
            {
                CryptographicOperations.ZeroMemory(cek);
            }
        }
    }

    internal static string EncryptRsaCore(ReadOnlySpan<byte> plaintext, Jwk recipient, byte[]? fixedCek, byte[]? fixedIv)
    {
        recipient.RequireRsa();
        var header = new JsonObject
        {
            ["alg"] = RsaOaep256,
            ["enc"] = A256Gcm,
        };
        if (recipient.Kid is not null)
        {
            header["kid"] = recipient.Kid;
        }

        byte[] cek = fixedCek ?? RandomNumberGenerator.GetBytes(CekSize);
        try
        {
            byte[] encryptedKey;
            using (RSA rsa = recipient.CreateRsa())
            {
                encryptedKey = rsa.Encrypt(cek, RSAEncryptionPadding.OaepSHA256);
            }

            return Seal(header, encryptedKey, cek, plaintext, fixedIv);
        }
        finally
        {
            if (fixedCek is null)
            {
                CryptographicOperations.ZeroMemory(cek);
            }
        }
    }

    private static string Seal(JsonObject header, byte[] encryptedKey, byte[] cek, ReadOnlySpan<byte> plaintext, byte[]? fixedIv)
    {
        string encodedHeader = Base64Url.Encode(Encoding.UTF8.GetBytes(header.ToJsonString()));
        byte[] iv = fixedIv ?? RandomNumberGenerator.GetBytes(IvSize);
        byte[] ciphertext = new byte[plaintext.Length];
        byte[] tag = new byte[TagSize];
        using (var gcm = new AesGcm(cek, TagSize))
        {
            gcm.Encrypt(iv, plaintext, ciphertext, tag, Encoding.ASCII.GetBytes(encodedHeader));
        }

        string result = string.Join(
            '.',
            encodedHeader,
            Base64Url.Encode(encryptedKey),
            Base64Url.Encode(iv),
            Base64Url.Encode(ciphertext),
            Base64Url.Encode(tag));
        if (result.Length > MaxCompactLength)
        {
            throw new ArgumentException($"The JWE would exceed {MaxCompactLength} characters.", nameof(plaintext));
        }

        return result;
    }

    private static byte[] DecryptEcdhCore(ParsedJwe jwe, ECDiffieHellman recipientKey, EcCurve curve)
    {
        if (!jwe.Header.TryGetPropertyValue("epk", out JsonNode? epkNode) || epkNode is not JsonObject epkObject)
        {
            throw new JoseException(JoseError.Malformed, "The JWE header has no \"epk\" object.");
        }

        Jwk epk;
        try
        {
            using JsonDocument epkDocument = JsonDocument.Parse(epkObject.ToJsonString());
            epk = Jwk.Parse(epkDocument.RootElement);
        }
        catch (JoseException ex)
        {
            throw new JoseException(JoseError.DecryptionFailed, $"The JWE \"epk\" is not a usable public key: {ex.Message}", ex);
        }

        if (!epk.IsEc || epk.EcCurve != curve)
        {
            throw new JoseException(
                JoseError.DecryptionFailed,
                $"The JWE \"epk\" ({epk.Kty} {epk.Crv}) is not on the recipient's curve {curve.Name}.");
        }

        byte[] partyU = ReadPartyInfo(jwe.Header, "apu");
        byte[] partyV = ReadPartyInfo(jwe.Header, "apv");
        if (jwe.EncryptedKey.Length != WrappedCekSize)
        {
            throw new JoseException(JoseError.Malformed, $"The JWE encrypted key must be {WrappedCekSize} bytes.");
        }

        byte[] sharedSecret;
        using (ECDiffieHellman peer = epk.CreateECDiffieHellman())
        using (ECDiffieHellmanPublicKey peerPublic = peer.PublicKey)
        {
            sharedSecret = recipientKey.DeriveRawSecretAgreement(peerPublic);
        }

        byte[] kek = new byte[CekSize];
        byte[]? cek = null;
        try
        {
            ConcatKdf.DeriveKey(sharedSecret, EcdhEsA256Kw, partyU, partyV, kek);
            try
            {
                cek = AesKeyWrap.Unwrap(kek, jwe.EncryptedKey);
            }
            catch (CryptographicException ex)
            {
                throw new JoseException(JoseError.DecryptionFailed, "The JWE could not be decrypted.", ex);
            }

            return Open(jwe, cek);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sharedSecret);
            CryptographicOperations.ZeroMemory(kek);
            if (cek is not null)
            {
                CryptographicOperations.ZeroMemory(cek);
            }
        }
    }

    private static byte[] DecryptRsaCore(ParsedJwe jwe, RSA recipientKey)
    {
        int modulusBytes = (recipientKey.KeySize + 7) / 8;
        if (jwe.EncryptedKey.Length != modulusBytes)
        {
            throw new JoseException(JoseError.Malformed, $"The JWE encrypted key must be {modulusBytes} bytes for this key.");
        }

        // RFC 7516 section 11.5: an OAEP failure continues with a random CEK, so that it is reported
        // exactly like a wrong tag.
        byte[] cek;
        try
        {
            cek = recipientKey.Decrypt(jwe.EncryptedKey, RSAEncryptionPadding.OaepSHA256);
        }
        catch (CryptographicException)
        {
            cek = RandomNumberGenerator.GetBytes(CekSize);
        }

        if (cek.Length != CekSize)
        {
            CryptographicOperations.ZeroMemory(cek);
            cek = RandomNumberGenerator.GetBytes(CekSize);
        }

        try
        {
            return Open(jwe, cek);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(cek);
        }
    }

    private static byte[] Open(ParsedJwe jwe, byte[] cek)
    {
        byte[] plaintext = new byte[jwe.Ciphertext.Length];
        try
        {
            using var gcm = new AesGcm(cek, TagSize);
            gcm.Decrypt(jwe.Iv, jwe.Ciphertext, jwe.Tag, plaintext, jwe.AdditionalData);
            return plaintext;
        }
        catch (AuthenticationTagMismatchException ex)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw new JoseException(JoseError.DecryptionFailed, "The JWE could not be decrypted.", ex);
        }
    }

    private static byte[] ReadPartyInfo(JsonObject header, string name)
    {
        string? text = JoseJson.GetOptionalString(header, name, "JWE header");
        if (text is null)
        {
            return [];
        }

        byte[] value = JoseJson.DecodeBase64Url(text, $"JWE \"{name}\"");
        if (value.Length > MaxPartyInfoBytes)
        {
            throw new JoseException(JoseError.Malformed, $"The JWE \"{name}\" is longer than {MaxPartyInfoBytes} bytes.");
        }

        return value;
    }

    private sealed class ParsedJwe
    {
        private ParsedJwe(JsonObject header, byte[] additionalData, byte[] encryptedKey, byte[] iv, byte[] ciphertext, byte[] tag)
        {
            Header = header;
            AdditionalData = additionalData;
            EncryptedKey = encryptedKey;
            Iv = iv;
            Ciphertext = ciphertext;
            Tag = tag;
        }

        public JsonObject Header { get; }

        public byte[] AdditionalData { get; }

        public byte[] EncryptedKey { get; }

        public byte[] Iv { get; }

        public byte[] Ciphertext { get; }

        public byte[] Tag { get; }

        public static ParsedJwe Parse(string compact, string expectedAlgorithm)
        {
            if (compact.Length > MaxCompactLength)
            {
                throw new JoseException(JoseError.Malformed, $"The JWE is longer than {MaxCompactLength} characters.");
            }

            CompactParts parts = CompactParts.Split(compact, 5, "JWE");
            ReadOnlySpan<char> encodedHeader = parts.Get(compact, 0);
            if (encodedHeader.IsEmpty)
            {
                throw new JoseException(JoseError.Malformed, "The JWE protected header is empty.");
            }

            byte[] headerBytes = JoseJson.DecodeBase64Url(encodedHeader, "JWE protected header");
            JsonObject header = JoseJson.ParseObject(headerBytes, "JWE protected header");
            byte[] encryptedKey = JoseJson.DecodeBase64Url(parts.Get(compact, 1), "JWE encrypted key");
            byte[] iv = JoseJson.DecodeBase64Url(parts.Get(compact, 2), "JWE initialization vector");
            byte[] ciphertext = JoseJson.DecodeBase64Url(parts.Get(compact, 3), "JWE ciphertext");
            byte[] tag = JoseJson.DecodeBase64Url(parts.Get(compact, 4), "JWE authentication tag");

            Jws.CheckForbiddenHeaders(header, "JWE");
            string alg = JoseJson.GetOptionalString(header, "alg", "JWE header")
                ?? throw new JoseException(JoseError.Malformed, "The JWE header has no \"alg\".");
            string enc = JoseJson.GetOptionalString(header, "enc", "JWE header")
                ?? throw new JoseException(JoseError.Malformed, "The JWE header has no \"enc\".");
            if (alg != expectedAlgorithm)
            {
                throw new JoseException(
                    JoseError.UnsupportedAlgorithm,
                    $"The JWE algorithm \"{alg}\" is not accepted for this key; expected \"{expectedAlgorithm}\".");
            }

            if (enc != A256Gcm)
            {
                throw new JoseException(JoseError.UnsupportedAlgorithm, $"The JWE encryption \"{enc}\" is not supported; expected \"{A256Gcm}\".");
            }

            if (header.ContainsKey("zip"))
            {
                throw new JoseException(JoseError.UnsupportedAlgorithm, "Compressed JWE (\"zip\") is not supported.");
            }

            if (iv.Length != IvSize)
            {
                throw new JoseException(JoseError.Malformed, $"The JWE initialization vector must be {IvSize} bytes.");
            }

            if (tag.Length != TagSize)
            {
                throw new JoseException(JoseError.Malformed, $"The JWE authentication tag must be {TagSize} bytes.");
            }

            byte[] additionalData = new byte[encodedHeader.Length];
            Encoding.ASCII.GetBytes(encodedHeader, additionalData);
            return new ParsedJwe(header, additionalData, encryptedKey, iv, ciphertext, tag);
        }
    }
}
