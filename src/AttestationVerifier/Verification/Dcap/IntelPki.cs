using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.Dcap;

namespace Enclave.AttestationVerifier.Verification.Dcap;

/// <summary>
/// Certificate chains, CRLs and raw ECDSA signatures of the Intel SGX PKI (all ECDSA P-256 with SHA-256), checked
/// against one pinned root at an explicit instant.
/// </summary>
internal sealed class IntelPki(X509Certificate2 root)
{
    private const string EcdsaWithSha256Oid = "1.2.840.10045.4.3.2";
    private const int MaxDepth = 4;

    public X509Certificate2 Root { get; } = root;

    /// <summary>
    /// Builds leaf → ... → root from the pool: each issuer is a pool certificate whose subject is the child's
    /// issuer and whose key verifies the child (the pinned root is used when the pool offers no candidate). A
    /// self-signed end that is not byte-for-byte the pinned root is an untrusted root.
    /// </summary>
    public ChainOutcome Build(X509Certificate2 leaf, IEnumerable<X509Certificate2> pool, DateTimeOffset at, string what)
    {
        List<X509Certificate2> chain = [leaf];
        List<X509Certificate2> candidates = pool.ToList();
        X509Certificate2 current = leaf;
        for (int depth = 0; depth <= MaxDepth; depth++)
        {
            if (IsSelfIssued(current))
            {
                if (!current.RawData.AsSpan().SequenceEqual(Root.RawData))
                {
                    return ChainOutcome.Fail(VerificationCodes.UntrustedRoot, $"{what} ends in '{current.Subject}' (DER SHA-256 {Convert.ToHexStringLower(SHA256.HashData(current.RawData))}), not the genuine Intel SGX Root CA ({IntelSgxRoot.DerSha256})");
                }

                if (!VerifiesCertificate(current, current))
                {
                    return ChainOutcome.Fail(VerificationCodes.ChainInvalid, $"{what}: the root's self-signature does not verify");
                }

                foreach (X509Certificate2 certificate in chain)
                {
                    DateTimeOffset notBefore = certificate.NotBefore.ToUniversalTime();
                    DateTimeOffset notAfter = certificate.NotAfter.ToUniversalTime();
                    if (at < notBefore || at > notAfter)
                    {
                        return ChainOutcome.Fail(VerificationCodes.CertificateExpired, $"{what}: '{certificate.Subject}' is valid {notBefore:O}..{notAfter:O}, not at {at:O}");
                    }
                }

                return ChainOutcome.Ok(chain);
            }

            byte[] issuerName = current.IssuerName.RawData;
            List<X509Certificate2> named = candidates
                .Where(c => c.SubjectName.RawData.AsSpan().SequenceEqual(issuerName) && !ReferenceEquals(c, current) && !c.RawData.AsSpan().SequenceEqual(current.RawData))
                .ToList();
            if (named.Count == 0 && Root.SubjectName.RawData.AsSpan().SequenceEqual(issuerName))
            {
                named.Add(Root);
            }

            X509Certificate2? issuer = named.FirstOrDefault(c => VerifiesCertificate(current, c));
            if (issuer is null)
            {
                return ChainOutcome.Fail(VerificationCodes.ChainInvalid, named.Count == 0
                    ? $"{what}: no certificate for issuer '{current.Issuer}' of '{current.Subject}'"
                    : $"{what}: the signature of '{current.Subject}' does not verify with its issuer '{current.Issuer}'");
            }

            if (!IsCa(issuer))
            {
                return ChainOutcome.Fail(VerificationCodes.ChainInvalid, $"{what}: issuer '{issuer.Subject}' is not a CA");
            }

            chain.Add(issuer);
            current = issuer;
        }

        return ChainOutcome.Fail(VerificationCodes.ChainInvalid, $"{what}: longer than {MaxDepth} certificates");
    }

    /// <summary>Checks a CRL's signature by <paramref name="issuer"/>, its issuer name and thisUpdate/nextUpdate at the instant.</summary>
    public static string? CheckCrl(DcapCrl crl, X509Certificate2 issuer, DateTimeOffset at, string what)
    {
        if (!crl.Issuer.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData))
        {
            return $"{what} is issued by '{crl.Issuer.Name}', not '{issuer.Subject}'";
        }

        if (!string.Equals(crl.SignatureAlgorithm, EcdsaWithSha256Oid, StringComparison.Ordinal)
            || !VerifiedSignatureCache.Verify(crl.SignedBytes, crl.Signature, issuer.RawData, () => VerifyDer(issuer, crl.SignedBytes, crl.Signature)))
        {
            return $"{what}: the signature does not verify with '{issuer.Subject}'";
        }

        if (at < crl.ThisUpdate || crl.NextUpdate is not { } next || at > next)
        {
            return $"{what} is valid {crl.ThisUpdate:O}..{crl.NextUpdate:O}, not at {at:O}";
        }

        return null;
    }

    /// <summary>ECDSA P-256 SHA-256 over <paramref name="data"/> with a raw 64-byte r||s signature.</summary>
    public static bool VerifyRaw(X509Certificate2 signer, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        using ECDsa? key = signer.GetECDsaPublicKey();
        return key is not null && signature.Length == 64 && IsP256(key)
            && key.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    /// <summary>As <see cref="VerifyRaw"/> for collateral (TCB info, QE identity): remembered once it verifies.</summary>
    public static bool VerifyRawCollateral(X509Certificate2 signer, byte[] data, byte[] signature) =>
        VerifiedSignatureCache.Verify(data, signature, signer.RawData, () => VerifyRaw(signer, data, signature));

    /// <summary>ECDSA P-256 SHA-256 with a key given as the raw 64-byte x||y point.</summary>
    public static bool VerifyWithRawKey(ReadOnlySpan<byte> xy, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        try
        {
            using var key = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = xy[..32].ToArray(), Y = xy[32..64].ToArray() },
            });
            return key.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static bool IsP256(ECDsa key) => key.KeySize == 256;

    private static bool IsSelfIssued(X509Certificate2 certificate) =>
        certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    private static bool IsCa(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is { CertificateAuthority: true };

    private static bool VerifiesCertificate(X509Certificate2 child, X509Certificate2 issuer) =>
        VerifiedSignatureCache.Verify(child.RawData, issuer.RawData, () => CertificateSignatureVerifies(child, issuer));

    private static bool CertificateSignatureVerifies(X509Certificate2 child, X509Certificate2 issuer)
    {
        try
        {
            AsnReader sequence = new AsnReader(child.RawData, AsnEncodingRules.DER).ReadSequence();
            ReadOnlyMemory<byte> tbs = sequence.ReadEncodedValue();
            string oid = sequence.ReadSequence().ReadObjectIdentifier();
            byte[] signature = sequence.ReadBitString(out _);
            return string.Equals(oid, EcdsaWithSha256Oid, StringComparison.Ordinal) && VerifyDer(issuer, tbs.Span, signature);
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    private static bool VerifyDer(X509Certificate2 signer, ReadOnlySpan<byte> data, byte[] signature)
    {
        try
        {
            using ECDsa? key = signer.GetECDsaPublicKey();
            return key is not null && key.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}

/// <summary>A built chain (leaf first, root last) or why none could be built.</summary>
internal sealed record ChainOutcome(IReadOnlyList<X509Certificate2>? Chain, string? Code, string? Message)
{
    public static ChainOutcome Ok(IReadOnlyList<X509Certificate2> chain) => new(chain, null, null);

    public static ChainOutcome Fail(string code, string message) => new(null, code, message);
}
