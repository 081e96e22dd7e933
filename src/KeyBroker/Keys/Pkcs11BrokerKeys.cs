// The broker's shared key material in the PKCS#11 token that holds its master key, so that brokers sharing one
// database and one token (a network HSM, or SoftHSM2 in tests) share it without copying files:
//   {prefix}-import  EC P-256 key pair; the private key (token, sensitive, non-extractable, derive only) does the
//                    ECDH of owners' ECDH-ES+A256KW JWEs in the token (CKM_ECDH1_DERIVE, CKD_NULL). The shared
//                    secret Z comes back as a session object (extractable, destroyed at once) for the Concat KDF
//                    and AES key unwrap, which stay in software: Z opens only that one JWE, the key never leaves.
//   {prefix}-audit   EC P-256 key pair; the private key (token, sensitive, non-extractable, sign only) signs the
//                    audit tree heads in the token (CKM_ECDSA over the SHA-256 hash, r | s as JWS wants it).
//   {prefix}-nonce   32-byte generic secret (token, sensitive, non-extractable, sign/verify only); nonce tags are
//                    CKM_SHA256_HMAC in the token.
// The public halves are token objects with the same label, read for the published JWKs. Objects are found by
// label (class and key type checked) or, when none exists, generated; a label held by more than one object of a
// class is an error, as for the master key. Operations use the master key's session pool.
using System.Security.Cryptography;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker.Keys;

public static class Pkcs11BrokerKeys
{
    public const string DefaultLabelPrefix = "enclave-keybroker";

    // DER of the P-256 OID 1.2.840.10045.3.1.7 (CKA_EC_PARAMS, namedCurve).
    private static readonly byte[] s_p256Parameters = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

    public static string ImportLabel(string prefix) => prefix + "-import";

    public static string AuditLabel(string prefix) => prefix + "-audit";

    public static string NonceLabel(string prefix) => prefix + "-nonce";

    /// <summary>Finds (or, with <paramref name="createIfMissing"/>, generates) the three keys in the master key's token.</summary>
    /// <exception cref="MasterKeyException">The token lacks a mechanism, an object is missing, duplicated, of the
    /// wrong type or extractable, a public key does not match its private key, or the token failed.</exception>
    public static BrokerKeyMaterial Open(Pkcs11MasterKey token, string labelPrefix, TimeProvider time, bool createIfMissing = true)
    {
        ArgumentNullException.ThrowIfNull(token);
        ArgumentException.ThrowIfNullOrWhiteSpace(labelPrefix);
        ArgumentNullException.ThrowIfNull(time);
        foreach (CKM mechanism in new[] { CKM.CKM_EC_KEY_PAIR_GEN, CKM.CKM_ECDSA, CKM.CKM_ECDH1_DERIVE, CKM.CKM_SHA256_HMAC, CKM.CKM_GENERIC_SECRET_KEY_GEN })
        {
            if (!token.Offers(mechanism))
            {
                throw new MasterKeyException(MasterKeyError.MechanismNotSupported, $"the token does not offer {mechanism}, which the broker keys need");
            }
        }

        Pkcs11Ecdh? import = null;
        Pkcs11Ecdsa? audit = null;
        try
        {
            ISession session = token.OpenReadWriteSession();
            try
            {
                (IObjectHandle importKey, ECParameters importPublic) = FindOrCreatePair(token, session, ImportLabel(labelPrefix), derive: true, createIfMissing);
                import = new Pkcs11Ecdh(token, importKey, importPublic);
                (IObjectHandle auditKey, ECParameters auditPublic) = FindOrCreatePair(token, session, AuditLabel(labelPrefix), derive: false, createIfMissing);
                audit = new Pkcs11Ecdsa(token, auditKey, auditPublic);
                IObjectHandle nonceKey = FindOrCreateSecret(token, session, NonceLabel(labelPrefix), createIfMissing);
                CheckPair(import, audit);
                var keys = new BrokerKeyMaterial(
                    new BrokerImportKey(import),
                    new AuditSigningKey(audit),
                    NonceStore.Create(new Pkcs11NonceMac(token, nonceKey), time),
                    $"PKCS#11 token objects \"{labelPrefix}-import|audit|nonce\"");
                import = null;
                audit = null;
                return keys;
            }
            finally
            {
                session.Dispose();
            }
        }
        catch (Pkcs11Exception e)
        {
            throw new MasterKeyException(MasterKeyError.DeviceError, $"the PKCS#11 token failed setting up the broker keys ({e.RV} in {e.Method})", e);
        }
        finally
        {
            import?.Dispose();
            audit?.Dispose();
        }
    }

    /// <summary>Each private key must belong to its public object: an ECDH with a fresh key and a signature are
    /// checked against the public halves in software.</summary>
    private static void CheckPair(Pkcs11Ecdh import, Pkcs11Ecdsa audit)
    {
        using (var probe = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256))
        using (ECDiffieHellmanPublicKey probePublic = probe.PublicKey)
        using (ECDiffieHellman importPublic = ECDiffieHellman.Create(import.ExportParameters(false)))
        using (ECDiffieHellmanPublicKey importPublicKey = importPublic.PublicKey)
        {
            byte[] inToken = import.DeriveRawSecretAgreement(probePublic);
            byte[] inSoftware = probe.DeriveRawSecretAgreement(importPublicKey);
            if (!CryptographicOperations.FixedTimeEquals(inToken, inSoftware))
            {
                throw new MasterKeyException(MasterKeyError.KeyInvalid, "the import key's public object does not match its private key");
            }
        }

        byte[] hash = SHA256.HashData("enclave-keybroker-pair-check"u8);
        using var auditPublic = ECDsa.Create(audit.ExportParameters(false));
        if (!auditPublic.VerifyHash(hash, audit.SignHash(hash)))
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, "the audit key's public object does not match its private key");
        }
    }

    private static (IObjectHandle PrivateKey, ECParameters PublicKey) FindOrCreatePair(
        Pkcs11MasterKey token, ISession session, string label, bool derive, bool createIfMissing)
    {
        Net.Pkcs11Interop.HighLevelAPI.Factories.IObjectAttributeFactory a = token.Factories.ObjectAttributeFactory;
        List<IObjectHandle> privates = session.FindAllObjects([a.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY), a.Create(CKA.CKA_LABEL, label)]);
        List<IObjectHandle> publics = session.FindAllObjects([a.Create(CKA.CKA_CLASS, CKO.CKO_PUBLIC_KEY), a.Create(CKA.CKA_LABEL, label)]);
        if (privates.Count == 0 && publics.Count == 0)
        {
            if (!createIfMissing)
            {
                throw new MasterKeyException(MasterKeyError.KeyNotFound, $"no key pair is labelled \"{label}\" in the token");
            }

            byte[] id = SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(label))[..16];
            session.GenerateKeyPair(token.Factories.MechanismFactory.Create(CKM.CKM_EC_KEY_PAIR_GEN),
                [
                    a.Create(CKA.CKA_CLASS, CKO.CKO_PUBLIC_KEY),
                    a.Create(CKA.CKA_KEY_TYPE, CKK.CKK_EC),
                    a.Create(CKA.CKA_EC_PARAMS, s_p256Parameters),
                    a.Create(CKA.CKA_LABEL, label),
                    a.Create(CKA.CKA_ID, id),
                    a.Create(CKA.CKA_TOKEN, true),
                    a.Create(CKA.CKA_PRIVATE, false),
                    a.Create(CKA.CKA_VERIFY, !derive),
                    a.Create(CKA.CKA_DERIVE, false),
                    a.Create(CKA.CKA_MODIFIABLE, false),
                ],
                [
                    a.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY),
                    a.Create(CKA.CKA_KEY_TYPE, CKK.CKK_EC),
                    a.Create(CKA.CKA_LABEL, label),
                    a.Create(CKA.CKA_ID, id),
                    a.Create(CKA.CKA_TOKEN, true),
                    a.Create(CKA.CKA_PRIVATE, true),
                    a.Create(CKA.CKA_SENSITIVE, true),
                    a.Create(CKA.CKA_EXTRACTABLE, false),
                    a.Create(CKA.CKA_SIGN, !derive),
                    a.Create(CKA.CKA_DERIVE, derive),
                    a.Create(CKA.CKA_DECRYPT, false),
                    a.Create(CKA.CKA_UNWRAP, false),
                    a.Create(CKA.CKA_MODIFIABLE, false),
                ],
                out IObjectHandle _,
                out IObjectHandle _);
            privates = session.FindAllObjects([a.Create(CKA.CKA_CLASS, CKO.CKO_PRIVATE_KEY), a.Create(CKA.CKA_LABEL, label)]);
            publics = session.FindAllObjects([a.Create(CKA.CKA_CLASS, CKO.CKO_PUBLIC_KEY), a.Create(CKA.CKA_LABEL, label)]);
        }

        if (privates.Count != 1 || publics.Count != 1)
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid,
                $"the token holds {privates.Count} private and {publics.Count} public keys labelled \"{label}\"; exactly one of each is needed "
                + "(brokers started together for the first time may each have created one: start one first, or create the keys in advance)");
        }

        List<IObjectAttribute> values = session.GetAttributeValue(privates[0],
            [CKA.CKA_KEY_TYPE, CKA.CKA_EC_PARAMS, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, derive ? CKA.CKA_DERIVE : CKA.CKA_SIGN]);
        if (values[0].GetValueAsUlong() != (ulong)CKK.CKK_EC || !values[1].GetValueAsByteArray().AsSpan().SequenceEqual(s_p256Parameters))
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the key \"{label}\" is not an EC P-256 key");
        }

        if (!values[2].GetValueAsBool() || values[3].GetValueAsBool())
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the key \"{label}\" is extractable or not sensitive; it must never leave the token");
        }

        if (!values[4].GetValueAsBool())
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the key \"{label}\" does not allow {(derive ? "derive" : "sign")}");
        }

        List<IObjectAttribute> publicValues = session.GetAttributeValue(publics[0], [CKA.CKA_KEY_TYPE, CKA.CKA_EC_PARAMS, CKA.CKA_EC_POINT]);
        if (publicValues[0].GetValueAsUlong() != (ulong)CKK.CKK_EC || !publicValues[1].GetValueAsByteArray().AsSpan().SequenceEqual(s_p256Parameters))
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the public key \"{label}\" is not an EC P-256 key");
        }

        return (privates[0], PublicParameters(publicValues[2].GetValueAsByteArray(), label));
    }

    /// <summary>CKA_EC_POINT: a DER OCTET STRING around the uncompressed point (PKCS#11), or the bare point (some tokens).</summary>
    private static ECParameters PublicParameters(byte[] point, string label)
    {
        ReadOnlySpan<byte> raw = point.Length == 67 && point[0] == 0x04 && point[1] == 0x41 ? point.AsSpan(2) : point;
        if (raw.Length != 65 || raw[0] != 0x04)
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the public key \"{label}\" has no uncompressed P-256 point");
        }

        var parameters = new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = raw.Slice(1, 32).ToArray(), Y = raw.Slice(33, 32).ToArray() },
        };
        parameters.Validate();
        return parameters;
    }

    private static IObjectHandle FindOrCreateSecret(Pkcs11MasterKey token, ISession session, string label, bool createIfMissing)
    {
        Net.Pkcs11Interop.HighLevelAPI.Factories.IObjectAttributeFactory a = token.Factories.ObjectAttributeFactory;
        List<IObjectHandle> found = session.FindAllObjects([a.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY), a.Create(CKA.CKA_LABEL, label)]);
        if (found.Count == 0)
        {
            if (!createIfMissing)
            {
                throw new MasterKeyException(MasterKeyError.KeyNotFound, $"no secret key is labelled \"{label}\" in the token");
            }

            session.GenerateKey(token.Factories.MechanismFactory.Create(CKM.CKM_GENERIC_SECRET_KEY_GEN),
            [
                a.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
                a.Create(CKA.CKA_KEY_TYPE, CKK.CKK_GENERIC_SECRET),
                a.Create(CKA.CKA_VALUE_LEN, 32UL),
                a.Create(CKA.CKA_LABEL, label),
                a.Create(CKA.CKA_ID, SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(label))[..16]),
                a.Create(CKA.CKA_TOKEN, true),
                a.Create(CKA.CKA_PRIVATE, true),
                a.Create(CKA.CKA_SENSITIVE, true),
                a.Create(CKA.CKA_EXTRACTABLE, false),
                a.Create(CKA.CKA_SIGN, true),
                a.Create(CKA.CKA_VERIFY, true),
                a.Create(CKA.CKA_ENCRYPT, false),
                a.Create(CKA.CKA_DECRYPT, false),
                a.Create(CKA.CKA_WRAP, false),
                a.Create(CKA.CKA_UNWRAP, false),
                a.Create(CKA.CKA_DERIVE, false),
                a.Create(CKA.CKA_MODIFIABLE, false),
            ]);
            found = session.FindAllObjects([a.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY), a.Create(CKA.CKA_LABEL, label)]);
        }

        if (found.Count != 1)
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"{found.Count} secret keys are labelled \"{label}\"; the nonce key must be unique");
        }

        List<IObjectAttribute> values = session.GetAttributeValue(found[0],
            [CKA.CKA_KEY_TYPE, CKA.CKA_VALUE_LEN, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_SIGN]);
        if (values[0].GetValueAsUlong() != (ulong)CKK.CKK_GENERIC_SECRET || values[1].GetValueAsUlong() != 32)
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the key \"{label}\" is not a 32-byte generic secret");
        }

        if (!values[2].GetValueAsBool() || values[3].GetValueAsBool() || !values[4].GetValueAsBool())
        {
            throw new MasterKeyException(MasterKeyError.KeyInvalid, $"the key \"{label}\" is extractable, not sensitive, or cannot sign");
        }

        return found[0];
    }

    /// <summary>An ECDSA P-256 key whose private half is a token object: <see cref="SignHash(byte[])"/> is CKM_ECDSA.</summary>
    private sealed class Pkcs11Ecdsa : ECDsa
    {
        private readonly Pkcs11MasterKey _token;
        private readonly IObjectHandle _key;
        private readonly ECParameters _public;

        public Pkcs11Ecdsa(Pkcs11MasterKey token, IObjectHandle key, ECParameters publicKey)
        {
            _token = token;
            _key = key;
            _public = publicKey;
            KeySizeValue = 256;
            LegalKeySizesValue = [new KeySizes(256, 256, 0)];
        }

        public override byte[] SignHash(byte[] hash)
        {
            ArgumentNullException.ThrowIfNull(hash);
            return _token.Run("C_Sign (ECDSA)", session =>
            {
                using IMechanism mechanism = _token.Factories.MechanismFactory.Create(CKM.CKM_ECDSA);
                return session.Sign(mechanism, _key, hash);
            });
        }

        public override bool VerifyHash(byte[] hash, byte[] signature)
        {
            using var verifier = ECDsa.Create(_public);
            return verifier.VerifyHash(hash, signature);
        }

        protected override byte[] HashData(byte[] data, int offset, int count, HashAlgorithmName hashAlgorithm) =>
            hashAlgorithm == HashAlgorithmName.SHA256
                ? SHA256.HashData(data.AsSpan(offset, count))
                : throw new CryptographicException($"The audit key signs SHA-256 hashes, not {hashAlgorithm}.");

        protected override byte[] HashData(Stream data, HashAlgorithmName hashAlgorithm) =>
            hashAlgorithm == HashAlgorithmName.SHA256
                ? SHA256.HashData(data)
                : throw new CryptographicException($"The audit key signs SHA-256 hashes, not {hashAlgorithm}.");

        public override ECParameters ExportParameters(bool includePrivateParameters) =>
            includePrivateParameters ? throw new CryptographicException("The key never leaves its PKCS#11 token.") : _public;

        public override ECParameters ExportExplicitParameters(bool includePrivateParameters) =>
            throw new CryptographicException("The key is kept in a PKCS#11 token; only its named-curve public half is exported.");

        public override void ImportParameters(ECParameters parameters) => throw new NotSupportedException("A PKCS#11 key cannot be replaced.");

        public override void GenerateKey(ECCurve curve) => throw new NotSupportedException("A PKCS#11 key cannot be replaced.");
    }

    /// <summary>An ECDH P-256 key whose private half is a token object: <see cref="DeriveRawSecretAgreement"/> is
    /// CKM_ECDH1_DERIVE (CKD_NULL) into a session object that is read and destroyed.</summary>
    private sealed class Pkcs11Ecdh : ECDiffieHellman
    {
        private readonly Pkcs11MasterKey _token;
        private readonly IObjectHandle _key;
        private readonly ECParameters _public;

        public Pkcs11Ecdh(Pkcs11MasterKey token, IObjectHandle key, ECParameters publicKey)
        {
            _token = token;
            _key = key;
            _public = publicKey;
            KeySizeValue = 256;
            LegalKeySizesValue = [new KeySizes(256, 256, 0)];
        }

        public override ECDiffieHellmanPublicKey PublicKey
        {
            get
            {
                using var software = ECDiffieHellman.Create(_public);
                return software.PublicKey;
            }
        }

        public override byte[] DeriveRawSecretAgreement(ECDiffieHellmanPublicKey otherPartyPublicKey)
        {
            ArgumentNullException.ThrowIfNull(otherPartyPublicKey);
            ECParameters peer = otherPartyPublicKey.ExportParameters();
            if (peer.Curve.Oid?.Value != ECCurve.NamedCurves.nistP256.Oid.Value || peer.Q.X is not { Length: 32 } x || peer.Q.Y is not { Length: 32 } y)
            {
                throw new CryptographicException("The other party's key is not a P-256 public key.");
            }

            byte[] point = new byte[65];
            point[0] = 0x04;
            x.CopyTo(point, 1);
            y.CopyTo(point, 33);
            Net.Pkcs11Interop.HighLevelAPI.Factories.IObjectAttributeFactory a = _token.Factories.ObjectAttributeFactory;
            return _token.Run("C_DeriveKey (ECDH)", session =>
            {
                using var parameters = _token.Factories.MechanismParamsFactory.CreateCkEcdh1DeriveParams((ulong)CKD.CKD_NULL, null, point);
                using IMechanism mechanism = _token.Factories.MechanismFactory.Create(CKM.CKM_ECDH1_DERIVE, parameters);
                IObjectHandle secret = session.DeriveKey(mechanism, _key,
                [
                    a.Create(CKA.CKA_CLASS, CKO.CKO_SECRET_KEY),
                    a.Create(CKA.CKA_KEY_TYPE, CKK.CKK_GENERIC_SECRET),
                    a.Create(CKA.CKA_VALUE_LEN, 32UL),
                    a.Create(CKA.CKA_TOKEN, false),
                    a.Create(CKA.CKA_SENSITIVE, false),
                    a.Create(CKA.CKA_EXTRACTABLE, true),
                ]);
                try
                {
                    return session.GetAttributeValue(secret, [CKA.CKA_VALUE])[0].GetValueAsByteArray();
                }
                finally
                {
                    session.DestroyObject(secret);
                }
            });
        }

        public override ECParameters ExportParameters(bool includePrivateParameters) =>
            includePrivateParameters ? throw new CryptographicException("The key never leaves its PKCS#11 token.") : _public;

        public override ECParameters ExportExplicitParameters(bool includePrivateParameters) =>
            throw new CryptographicException("The key is kept in a PKCS#11 token; only its named-curve public half is exported.");

        public override void ImportParameters(ECParameters parameters) => throw new NotSupportedException("A PKCS#11 key cannot be replaced.");

        public override void GenerateKey(ECCurve curve) => throw new NotSupportedException("A PKCS#11 key cannot be replaced.");
    }

    /// <summary>The nonce key's HMAC-SHA256, computed in the token.</summary>
    private sealed class Pkcs11NonceMac(Pkcs11MasterKey token, IObjectHandle key) : INonceMac
    {
        public void ComputeHmacSha256(ReadOnlySpan<byte> input, Span<byte> mac)
        {
            byte[] data = input.ToArray();
            byte[] result = token.Run("C_Sign (HMAC)", session =>
            {
                using IMechanism mechanism = token.Factories.MechanismFactory.Create(CKM.CKM_SHA256_HMAC);
                return session.Sign(mechanism, key, data);
            });
            if (result.Length != 32)
            {
                throw new MasterKeyException(MasterKeyError.DeviceError, $"the token returned {result.Length} bytes for HMAC-SHA256");
            }

            result.CopyTo(mac);
        }
    }
}
