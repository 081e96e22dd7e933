using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;

namespace Enclave.AttestationVerifier.Tests.Endorsements;

/// <summary>The shared path builder's explicit checks (RFC 5280 section 6.1.4): issuers are CAs with keyCertSign
/// within their pathLenConstraint, the leaf allows digitalSignature where required, the root is the pinned one.</summary>
public sealed class CertificateChainTests
{
    private static readonly DateTimeOffset s_notBefore = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Well_formed_path_builds_and_its_validity_is_checked_per_instant()
    {
        using Issued root = Root();
        using Issued intermediate = Issue(root, "CN=Intermediate", ca: true, pathLength: 0, usage: X509KeyUsageFlags.KeyCertSign);
        using Issued leaf = Issue(intermediate, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.DigitalSignature);

        CertificatePath path = CertificateChain.Build(leaf.Certificate, [intermediate.Certificate], root.Certificate, new ChainRules(4, LeafDigitalSignature: true));

        Assert.True(path.IsValid, path.Message);
        Assert.Equal(3, path.Chain.Count);
        Assert.Equal(-1, path.FirstInvalidAt(s_notBefore.AddDays(1)));
        Assert.Equal(0, path.FirstInvalidAt(s_notBefore.AddYears(5)));
    }

    [Fact]
    public void Leaf_used_as_an_issuer_is_refused()
    {
        using Issued root = Root();
        using Issued notCa = Issue(root, "CN=Not A CA", ca: false, pathLength: null, usage: X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature);
        using Issued leaf = Issue(notCa, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.DigitalSignature);

        CertificatePath path = CertificateChain.Build(leaf.Certificate, [notCa.Certificate], root.Certificate, new ChainRules(4));

        Assert.False(path.IsValid);
        Assert.Equal(ChainFailure.NotAnIssuer, path.Failure);
    }

    [Fact]
    public void Issuer_without_keyCertSign_is_refused()
    {
        using Issued root = Root();
        using Issued intermediate = Issue(root, "CN=Intermediate", ca: true, pathLength: 0, usage: X509KeyUsageFlags.CrlSign);
        using Issued leaf = Issue(intermediate, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.DigitalSignature);

        CertificatePath path = CertificateChain.Build(leaf.Certificate, [intermediate.Certificate], root.Certificate, new ChainRules(4));

        Assert.False(path.IsValid);
        Assert.Equal(ChainFailure.NotAnIssuer, path.Failure);
    }

    [Fact]
    public void Path_length_constraint_exceeded_is_refused()
    {
        using Issued root = Root();
        using Issued first = Issue(root, "CN=First", ca: true, pathLength: 0, usage: X509KeyUsageFlags.KeyCertSign);
        using Issued second = Issue(first, "CN=Second", ca: true, pathLength: 0, usage: X509KeyUsageFlags.KeyCertSign);
        using Issued leaf = Issue(second, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.DigitalSignature);

        CertificatePath path = CertificateChain.Build(leaf.Certificate, [first.Certificate, second.Certificate], root.Certificate, new ChainRules(5));

        Assert.False(path.IsValid);
        Assert.Equal(ChainFailure.NotAnIssuer, path.Failure);
    }

    [Fact]
    public void Leaf_without_digitalSignature_is_refused_where_required()
    {
        using Issued root = Root();
        using Issued leaf = Issue(root, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.KeyAgreement);

        Assert.True(CertificateChain.Build(leaf.Certificate, [], root.Certificate, new ChainRules(2)).IsValid);
        CertificatePath path = CertificateChain.Build(leaf.Certificate, [], root.Certificate, new ChainRules(2, LeafDigitalSignature: true));

        Assert.Equal(ChainFailure.LeafKeyUsage, path.Failure);
    }

    [Fact]
    public void Certificate_not_signed_with_the_required_algorithm_is_refused()
    {
        using Issued root = Root();
        using Issued leaf = Issue(root, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.DigitalSignature);

        Assert.True(CertificateChain.Build(leaf.Certificate, [], root.Certificate, new ChainRules(2)).IsValid);
        CertificatePath path = CertificateChain.Build(leaf.Certificate, [], root.Certificate, new ChainRules(2, Signature: ChainSignature.RsaPssSha384));

        Assert.Equal(ChainFailure.SignatureAlgorithm, path.Failure);
        Assert.Equal(0, path.FailedIndex);
    }

    [Fact]
    public void Same_certificate_objects_find_the_path_already_built()
    {
        using Issued root = Root();
        using Issued intermediate = Issue(root, "CN=Intermediate", ca: true, pathLength: 0, usage: X509KeyUsageFlags.KeyCertSign);
        using Issued leaf = Issue(intermediate, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.DigitalSignature);
        ChainRules rules = new(4, LeafDigitalSignature: true);

        CertificatePath first = CertificateChain.Build(leaf.Certificate, [intermediate.Certificate], root.Certificate, rules);

        Assert.Same(first, CertificateChain.Build(leaf.Certificate, [intermediate.Certificate], root.Certificate, new ChainRules(4, LeafDigitalSignature: true)));
        CertificatePath withoutIntermediate = CertificateChain.Build(leaf.Certificate, [], root.Certificate, rules);
        Assert.NotSame(first, withoutIntermediate);
        Assert.False(withoutIntermediate.IsValid);
    }

    [Fact]
    public void Look_alike_root_offered_in_the_path_is_an_untrusted_root()
    {
        using Issued pinned = Root();
        using Issued lookAlike = Root();
        using Issued leaf = Issue(lookAlike, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.DigitalSignature);

        CertificatePath path = CertificateChain.Build(leaf.Certificate, [lookAlike.Certificate], pinned.Certificate, new ChainRules(3));

        Assert.Equal(ChainFailure.UntrustedRoot, path.Failure);
    }

    [Fact]
    public void Wrong_signature_is_refused()
    {
        using Issued root = Root();
        using Issued other = Root();
        using Issued leaf = Issue(other, "CN=Leaf", ca: false, pathLength: null, usage: X509KeyUsageFlags.DigitalSignature);

        CertificatePath path = CertificateChain.Build(leaf.Certificate, [], root.Certificate, new ChainRules(3));

        Assert.False(path.IsValid);
        Assert.Contains(path.Failure, new[] { ChainFailure.SignatureInvalid, ChainFailure.NoIssuer });
    }

    private static Issued Root()
    {
        ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new("CN=Test Chain Root", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return new Issued(request.CreateSelfSigned(s_notBefore, s_notBefore.AddYears(10)), key);
    }

    private static Issued Issue(Issued issuer, string subject, bool ca, int? pathLength, X509KeyUsageFlags usage)
    {
        ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, pathLength is not null, pathLength ?? 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        byte[] serial = RandomNumberGenerator.GetBytes(8);
        serial[0] &= 0x7f;
        X509Certificate2 certificate = request.Create(issuer.Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(issuer.Key), s_notBefore, s_notBefore.AddYears(ca ? 8 : 2), serial);
        return new Issued(certificate, key);
    }

    private sealed record Issued(X509Certificate2 Certificate, ECDsa Key) : IDisposable
    {
        public void Dispose()
        {
            Certificate.Dispose();
            Key.Dispose();
        }
    }
}
