using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Evidence.SevSnp;
using Enclave.AttestationVerifier.Verification;
using static Enclave.AttestationVerifier.Verification.VerificationCodes;

namespace Enclave.AttestationVerifier.Tests.SevSnp;

/// <summary>
/// The shared chain builder's checks on the SEV-SNP path: an ASK that may not issue certificates (no
/// basicConstraints cA, an end-entity certificate, keyUsage without keyCertSign), a path longer than
/// VCEK → ASK → ARK, and an ASK not signed with RSASSA-PSS SHA-384, each built with CertificateRequest under the
/// test ARK.
/// </summary>
public sealed class SevSnpChainTests
{
    private static SevSnpTestPki Milan => SevSnpTestPki.Milan;

    [Fact]
    public void Ask_without_basic_constraints_is_a_chain_error() =>
        AssertMayNotIssue("SEV-Milan", Problems(Issuer("SEV-Milan", new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true))));

    [Fact]
    public void End_entity_certificate_used_as_the_ask_is_a_chain_error() =>
        AssertMayNotIssue("SEV-Milan", Problems(Issuer(
            "SEV-Milan",
            new X509BasicConstraintsExtension(false, false, 0, true),
            new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true))));

    [Fact]
    public void Ask_whose_key_usage_lacks_key_cert_sign_is_a_chain_error() =>
        AssertMayNotIssue("SEV-Milan", Problems(Issuer(
            "SEV-Milan",
            new X509BasicConstraintsExtension(true, true, 0, true),
            new X509KeyUsageExtension(X509KeyUsageFlags.CrlSign, true))));

    [Fact]
    public void Path_through_an_extra_ca_beyond_its_path_length_is_a_chain_error()
    {
        Issued middle = Issuer(
            "SEV-Milan-Intermediate",
            new X509BasicConstraintsExtension(true, true, 0, true),
            new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        Issued ask = Issuer(
            "SEV-Milan",
            [new X509BasicConstraintsExtension(true, true, 0, true), new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true)],
            middle);

        AssertMayNotIssue("SEV-Milan-Intermediate", Problems(ask, middle.Certificate));
    }

    [Fact]
    public void Ask_signed_by_the_ark_key_with_pkcs1_is_not_chained_to_the_genuine_ark() =>
        Assert.Equal([UntrustedRoot], Problems(Issuer(
            "SEV-Milan",
            [new X509BasicConstraintsExtension(true, true, 0, true), new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true)],
            padding: RSASignaturePadding.Pkcs1)).Select(p => p.Code));

    [Fact]
    public void Well_formed_custom_ask_verifies() =>
        Assert.Empty(Problems(Issuer(
            "SEV-Milan",
            new X509BasicConstraintsExtension(true, true, 0, true),
            new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true))));

    private static void AssertMayNotIssue(string commonName, VerificationProblem[] problems)
    {
        VerificationProblem problem = Assert.Single(problems);
        Assert.Equal(ChainInvalid, problem.Code);
        Assert.Contains($"CN={commonName},", problem.Message, StringComparison.Ordinal);
        Assert.Contains("may not issue", problem.Message, StringComparison.Ordinal);
    }

    private static VerificationProblem[] Problems(Issued ask, params X509Certificate2[] more)
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default, issuer: ask.Certificate, issuerKey: ask.Key);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);
        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.Endorsements([vcek, ask.Certificate, .. more, Milan.Ark]), SevSnpTestPki.At);
        return [.. result.Errors];
    }

    private static Issued Issuer(string commonName, params X509Extension[] extensions) => Issuer(commonName, extensions, null);

    private static Issued Issuer(string commonName, X509Extension[] extensions, Issued? issuer = null, RSASignaturePadding? padding = null)
    {
        RSA key = RSA.Create(2048);
        CertificateRequest request = new(SevSnpTestPki.Name(commonName), key, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
        foreach (X509Extension extension in extensions)
        {
            request.CertificateExtensions.Add(extension);
        }

        byte[] serial = RandomNumberGenerator.GetBytes(8);
        serial[0] &= 0x7f;
        X509Certificate2 certificate = request.Create(
            issuer?.Certificate.SubjectName ?? Milan.Ark.SubjectName,
            X509SignatureGenerator.CreateForRSA(issuer?.Key ?? Milan.ArkKey, padding ?? RSASignaturePadding.Pss),
            SevSnpTestPki.NotBefore.AddMonths(-6),
            SevSnpTestPki.NotAfter.AddYears(1),
            serial);
        return new Issued(certificate, key);
    }

    private sealed record Issued(X509Certificate2 Certificate, RSA Key);
}
