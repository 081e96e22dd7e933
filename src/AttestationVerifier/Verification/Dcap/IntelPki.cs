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
    private const int MaxLength = 5;

    public X509Certificate2 Root { get; } = root;

    /// <summary>
    /// Builds leaf → ... → the pinned root from the pool with the shared <see cref="CertificateChain"/> (issuers CAs
    /// with keyCertSign within their path length, the leaf allowing digitalSignature), then checks every
    /// certificate's validity at the instant. A look-alike or substituted root is an untrusted root.
    /// </summary>
    public ChainOutcome Build(X509Certificate2 leaf, IEnumerable<X509Certificate2> pool, DateTimeOffset at, string what)
    {
        CertificatePath path = CertificateChain.Build(leaf, pool, Root, new ChainRules(MaxLength, LeafDigitalSignature: true));
        if (!path.IsValid)
        {
            return path.Failure == ChainFailure.UntrustedRoot
                ? ChainOutcome.Fail(VerificationCodes.UntrustedRoot, $"{what}: {path.Message}; the genuine Intel SGX Root CA is {IntelSgxRoot.DerSha256}")
                : ChainOutcome.Fail(VerificationCodes.ChainInvalid, $"{what}: {path.Message}");
        }

        int invalid = path.FirstInvalidAt(at);
        return invalid < 0
            ? ChainOutcome.Ok(path.Chain)
            : ChainOutcome.Fail(VerificationCodes.CertificateExpired, $"{what}: '{path.Chain[invalid].Subject}' is valid {path.DescribeValidity(invalid)}, not at {at:O}");
    }

    /// <summary>Checks a CRL's signature by <paramref name="issuer"/>, its issuer name and thisUpdate/nextUpdate at the instant.</summary>
    public static string? CheckCrl(DcapCrl crl, X509Certificate2 issuer, DateTimeOffset at, string what)
    {
        if (!crl.Issuer.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData))
        {
            return $"{what} is issued by '{crl.Issuer.Name}', not '{issuer.Subject}'";
        }

        if (!string.Equals(crl.SignatureAlgorithm, EcdsaWithSha256Oid, StringComparison.Ordinal)
            || !VerifiedSignatureCache.Verify(crl, issuer, crl.SignedBytes, crl.Signature, () => VerifyDer(issuer, crl.SignedBytes, crl.Signature)))
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

    /// <summary>As <see cref="VerifyRaw"/> for a collateral document (TCB info, QE identity): remembered once it verifies.</summary>
    public static bool VerifyRawCollateral(X509Certificate2 signer, SignedCollateral document) =>
        VerifiedSignatureCache.Verify(document, signer, document.Body, document.Signature, () => VerifyRaw(signer, document.Body, document.Signature));

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
