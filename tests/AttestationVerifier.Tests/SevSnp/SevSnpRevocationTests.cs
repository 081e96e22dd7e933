using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence.SevSnp;
using Enclave.AttestationVerifier.Verification;
using static Enclave.AttestationVerifier.Verification.VerificationCodes;

namespace Enclave.AttestationVerifier.Tests.SevSnp;

/// <summary>AMD KDS CRLs: an ARK-signed CRL revokes ASKs/ASVKs, an ASVK-signed one VLEKs.</summary>
public sealed class SevSnpRevocationTests
{
    private static SevSnpTestPki Milan => SevSnpTestPki.Milan;

    private static readonly DateTimeOffset s_thisUpdate = SevSnpTestPki.At.AddDays(-3);
    private static readonly DateTimeOffset s_nextUpdate = SevSnpTestPki.At.AddDays(4);

    [Fact]
    public void Current_crl_that_lists_nothing_of_the_chain_verifies()
    {
        byte[] crl = SevSnpTestPki.Crl(Milan.Ark, Milan.ArkKey, s_thisUpdate, s_nextUpdate, Milan.Asvk);

        Assert.Empty(Codes(vlek: false, crl));
    }

    [Fact]
    public void Ask_listed_by_the_ark_crl_is_revoked() =>
        Assert.Equal([CertificateRevoked], Codes(vlek: false, SevSnpTestPki.Crl(Milan.Ark, Milan.ArkKey, s_thisUpdate, s_nextUpdate, Milan.Ask)));

    [Fact]
    public void Asvk_listed_by_the_ark_crl_is_revoked() =>
        Assert.Equal([CertificateRevoked], Codes(vlek: true, SevSnpTestPki.Crl(Milan.Ark, Milan.ArkKey, s_thisUpdate, s_nextUpdate, Milan.Asvk)));

    [Fact]
    public void Vlek_listed_by_the_asvk_crl_is_revoked()
    {
        (X509Certificate2 vlek, ECDsa key) = Milan.EndorsementKey(vlek: true, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { Flags = 0x4, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);
        byte[] crl = SevSnpTestPki.Crl(Milan.Asvk, Milan.AsvkKey, s_thisUpdate, s_nextUpdate, vlek);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, WithCrl(Milan.StandardEndorsements(vlek), crl), SevSnpTestPki.At);

        Assert.Equal([CertificateRevoked], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Crl_past_its_next_update_is_invalid() =>
        Assert.Equal([CrlInvalid], Codes(vlek: false, SevSnpTestPki.Crl(Milan.Ark, Milan.ArkKey, s_thisUpdate.AddDays(-30), SevSnpTestPki.At.AddSeconds(-1))));

    [Fact]
    public void Crl_before_its_this_update_is_invalid() =>
        Assert.Equal([CrlInvalid], Codes(vlek: false, SevSnpTestPki.Crl(Milan.Ark, Milan.ArkKey, SevSnpTestPki.At.AddSeconds(1), s_nextUpdate)));

    [Fact]
    public void Crl_signed_by_an_impostor_with_the_ark_name_is_invalid() =>
        Assert.Equal([CrlInvalid], Codes(vlek: false, SevSnpTestPki.Crl(SevSnpTestPki.Impostor.Ark, SevSnpTestPki.Impostor.ArkKey, s_thisUpdate, s_nextUpdate, Milan.Ask)));

    [Fact]
    public void Bytes_that_are_not_a_crl_are_invalid() =>
        Assert.Equal([CrlInvalid], Codes(vlek: false, [0x30, 0x03, 0x02, 0x01, 0x00]));

    [Fact]
    public void Crl_of_another_issuer_is_ignored()
    {
        byte[] crl = SevSnpTestPki.Crl(SevSnpTestPki.Turin.Ark, SevSnpTestPki.Turin.ArkKey, s_thisUpdate, s_nextUpdate, Milan.Ask);

        Assert.Empty(Codes(vlek: false, crl));
    }

    [Fact]
    public void Genuine_sample_with_a_forged_ark_milan_crl_is_rejected()
    {
        // An impostor CRL named ARK-Milan that revokes the genuine SEV-Milan ASK must not be believed, nor ignored.
        X509Certificate2 ask = EndorsementSet.FromFiles([("ask", SevSnpVectors.File_(SevSnpVectors.Vcek, "ask_milan.pem"))]).Certificates[0];
        X509Certificate2 genuineArk = Enclave.AttestationVerifier.Endorsements.SevSnp.AmdRootCertificates.All[SevSnpProduct.Milan];
        using RSA forger = RSA.Create(2048);
        CertificateRevocationListBuilder builder = new();
        builder.AddEntry(ask.SerialNumberBytes.Span, s_thisUpdate);
        byte[] crl = builder.Build(genuineArk.SubjectName, X509SignatureGenerator.CreateForRSA(forger, RSASignaturePadding.Pss), 1,
            new DateTimeOffset(2025, 7, 1, 0, 0, 0, TimeSpan.Zero), HashAlgorithmName.SHA384,
            X509AuthorityKeyIdentifierExtension.CreateFromIssuerNameAndSerialNumber(genuineArk.IssuerName, genuineArk.SerialNumberBytes.Span),
            new DateTimeOffset(2025, 5, 1, 0, 0, 0, TimeSpan.Zero));

        HardwareVerificationReport result = new Enclave.AttestationVerifier.Verification.SevSnp.SevSnpVerifier().Verify(
            SevSnpVectors.Report(SevSnpVectors.Vcek), WithCrl(SevSnpVectors.Endorsements(SevSnpVectors.Vcek), crl), SevSnpVectors.VerificationTime(SevSnpVectors.Vcek));

        Assert.Equal([CrlInvalid], result.Errors.Select(e => e.Code));
    }

    private static string[] Codes(bool vlek, byte[] crl)
    {
        (X509Certificate2 certificate, ECDsa key) = Milan.EndorsementKey(vlek, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { Flags = vlek ? 0x4u : 0u, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);
        HardwareVerificationReport result = Milan.Verifier().Verify(report, WithCrl(Milan.StandardEndorsements(certificate), crl), SevSnpTestPki.At);
        return [.. result.Errors.Select(e => e.Code)];
    }

    private static EndorsementSet WithCrl(EndorsementSet endorsements, byte[] crl) =>
        endorsements.With(crls: [new EndorsementCrl("crl", crl)]);
}
