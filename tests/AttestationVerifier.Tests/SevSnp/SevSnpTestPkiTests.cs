using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence.SevSnp;
using Enclave.AttestationVerifier.Verification;
using static Enclave.AttestationVerifier.Verification.VerificationCodes;

namespace Enclave.AttestationVerifier.Tests.SevSnp;

/// <summary>
/// Cases genuine AMD reports cannot cover (they cannot be re-signed): reports signed by an AMD-shaped test PKI
/// whose ARK is injected as the trusted root.
/// </summary>
public sealed class SevSnpTestPkiTests
{
    private static SevSnpTestPki Milan => SevSnpTestPki.Milan;

    [Fact]
    public void Well_formed_vcek_report_verifies_up_to_date()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.True(result.Verified, string.Join("; ", result.Errors));
        Assert.Equal(TcbStatus.UpToDate, result.TcbStatus);
        Assert.False(result.Identity!.Debug);
        Assert.Equal(7, result.Identity.Svns["guest_svn"]);
        Assert.Equal(7L, result.Identity.TokenClaims["x-ms-sevsnpvm-guestsvn"]);
    }

    [Theory]
    [InlineData("boot loader", 4, 0, 8, 115)]
    [InlineData("TEE", 3, 1, 8, 115)]
    [InlineData("SNP", 3, 0, 9, 115)]
    [InlineData("microcode", 3, 0, 8, 114)]
    public void Reported_tcb_above_or_below_the_certified_tcb_is_a_tcb_mismatch(string component, byte bootLoader, byte tee, byte snp, byte microcode)
    {
        Tcb reported = new(bootLoader, tee, snp, microcode);
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = reported.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        VerificationProblem problem = Assert.Single(result.Errors);
        Assert.Equal(TcbMismatch, problem.Code);
        Assert.Contains(component, problem.Message, StringComparison.Ordinal);
        Assert.Null(result.TcbStatus);
    }

    [Fact]
    public void Vlek_report_with_mismatched_tcb_is_a_tcb_mismatch()
    {
        (X509Certificate2 vlek, ECDsa key) = Milan.EndorsementKey(vlek: true, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { Flags = 0x4, ReportedTcb = (Tcb.Default with { Snp = 7 }).Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vlek), SevSnpTestPki.At);

        Assert.Equal([TcbMismatch], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Debug_policy_report_is_genuine_and_identity_says_debug()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { Policy = 0xB0000, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.True(result.Verified, string.Join("; ", result.Errors));
        Assert.True(result.Identity!.Debug);
        Assert.Equal(true, result.Identity.TokenClaims["x-ms-sevsnpvm-is-debuggable"]);
        Assert.Equal("true", result.Claims["policy_debug_allowed"]);
    }

    [Fact]
    public void Turin_report_uses_the_turin_tcb_layout_and_checks_the_fmc_svn()
    {
        SevSnpTestPki turin = SevSnpTestPki.Turin;
        (X509Certificate2 vcek, ECDsa key) = turin.EndorsementKey(vlek: false, Tcb.Default, hardwareId: SevSnpTestPki.ChipId[..8]);
        SevSnpReportBuilder builder = new() { Version = 3, CpuidFamily = 0x1A, CpuidModel = 0x02, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Turin) };

        HardwareVerificationReport good = turin.Verifier().Verify(builder.Build(key), turin.StandardEndorsements(vcek), SevSnpTestPki.At);
        builder.ReportedTcb = (Tcb.Default with { Fmc = 2 }).Encode(SevSnpProduct.Turin);
        HardwareVerificationReport badFmc = turin.Verifier().Verify(builder.Build(key), turin.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.True(good.Verified, string.Join("; ", good.Errors));
        Assert.Equal("Turin", good.Claims["product"]);
        Assert.Equal("1", good.Claims["reported_tcb.fmc"]);
        Assert.Equal("3", good.Claims["reported_tcb.bootloader"]);
        Assert.Equal("8", good.Claims["reported_tcb.snp"]);
        Assert.Equal(1, good.Identity!.Svns["fmc_svn"]);
        Assert.Equal([TcbMismatch], badFmc.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Turin_report_against_a_milan_chain_is_a_collateral_mismatch()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { Version = 3, CpuidFamily = 0x1A, CpuidModel = 0x02, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Contains(CollateralMismatch, result.Errors.Select(e => e.Code));
        Assert.False(result.Verified);
    }

    [Fact]
    public void Chip_id_not_matching_the_vcek_hwid_is_a_collateral_mismatch_unless_the_chip_key_is_masked()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default, hardwareId: new byte[64]);
        SevSnpReportBuilder builder = new() { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) };

        HardwareVerificationReport mismatch = Milan.Verifier().Verify(builder.Build(key), Milan.StandardEndorsements(vcek), SevSnpTestPki.At);
        builder.Flags = 0x2;
        HardwareVerificationReport masked = Milan.Verifier().Verify(builder.Build(key), Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([CollateralMismatch], mismatch.Errors.Select(e => e.Code));
        Assert.True(masked.Verified, string.Join("; ", masked.Errors));
    }

    [Fact]
    public void Vcek_without_hwid_is_invalid_collateral()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default, omitHardwareId: true);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([CollateralInvalid], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Vcek_without_an_spl_extension_is_invalid_collateral()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default, omitSpl: true);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([CollateralInvalid], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Vlek_issued_by_the_ask_instead_of_the_asvk_is_a_chain_error()
    {
        (X509Certificate2 vlek, ECDsa key) = Milan.EndorsementKey(vlek: true, Tcb.Default, issuer: Milan.Ask, issuerKey: Milan.AskKey);
        byte[] report = new SevSnpReportBuilder { Flags = 0x4, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vlek), SevSnpTestPki.At);

        Assert.Equal([ChainInvalid], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Vcek_issued_by_the_asvk_instead_of_the_ask_is_a_chain_error()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default, issuer: Milan.Asvk, issuerKey: Milan.AsvkKey);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([ChainInvalid], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Vcek_signed_with_pkcs1_instead_of_pss_is_a_chain_error()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default, padding: RSASignaturePadding.Pkcs1);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([ChainInvalid], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Ask_signed_by_an_impostor_ark_with_the_genuine_name_is_an_untrusted_root()
    {
        SevSnpTestPki impostor = SevSnpTestPki.Impostor;
        (X509Certificate2 vcek, ECDsa key) = impostor.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, impostor.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([UntrustedRoot], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Vcek_with_a_p256_key_is_invalid_collateral()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default, curve: ECCurve.NamedCurves.nistP256);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([CollateralInvalid], result.Errors.Select(e => e.Code));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(2u)]
    public void Signature_algorithm_other_than_ecdsa_p384_is_not_allowed(uint algorithm)
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { SignatureAlgorithm = algorithm, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([AlgorithmNotAllowed], result.Errors.Select(e => e.Code));
    }

    [Fact]
    public void Unsigned_report_selector_is_a_chain_error()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { Flags = 7 << 2, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.Equal([ChainInvalid], result.Errors.Select(e => e.Code));
        Assert.Equal("none", result.Claims["flags.signing_key"]);
    }

    [Fact]
    public void Signer_is_the_author_key_digest_when_enabled_else_the_id_key_digest()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] idKey = [.. Enumerable.Repeat((byte)0x11, 48)];
        byte[] authorKey = [.. Enumerable.Repeat((byte)0x22, 48)];
        SevSnpReportBuilder builder = new() { IdKeyDigest = idKey, AuthorKeyDigest = authorKey, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) };

        HardwareVerificationReport idSigned = Milan.Verifier().Verify(builder.Build(key), Milan.StandardEndorsements(vcek), SevSnpTestPki.At);
        builder.Flags = 0x1;
        HardwareVerificationReport authorSigned = Milan.Verifier().Verify(builder.Build(key), Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.True(idSigned.Verified && authorSigned.Verified);
        Assert.Equal(Convert.ToHexStringLower(idKey), idSigned.Identity!.Signer);
        Assert.Equal(Convert.ToHexStringLower(authorKey), authorSigned.Identity!.Signer);
    }

    [Fact]
    public void Version_5_report_exposes_the_mitigation_vectors()
    {
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { Version = 5, ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vcek), SevSnpTestPki.At);

        Assert.True(result.Verified, string.Join("; ", result.Errors));
        Assert.Equal("0x5", result.Claims["launch_mit_vector"]);
        Assert.Equal("0x7", result.Claims["current_mit_vector"]);
        Assert.Equal("25", result.Claims["cpuid_fam_id"]);
    }

    [Fact]
    public void Vlek_platform_id_is_the_hash_of_the_vlek_certificate()
    {
        (X509Certificate2 vlek, ECDsa key) = Milan.EndorsementKey(vlek: true, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { Flags = 0x4, ChipId = new byte[64], ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.StandardEndorsements(vlek), SevSnpTestPki.At);

        Assert.True(result.Verified, string.Join("; ", result.Errors));
        Assert.Equal("sev-snp-vlek:" + Convert.ToHexStringLower(SHA256.HashData(vlek.RawData)), result.Identity!.PlatformId);
    }

    [Fact]
    public void Among_several_vceks_the_one_that_signed_is_used()
    {
        (X509Certificate2 other, _) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        (X509Certificate2 vcek, ECDsa key) = Milan.EndorsementKey(vlek: false, Tcb.Default);
        byte[] report = new SevSnpReportBuilder { ReportedTcb = Tcb.Default.Encode(SevSnpProduct.Milan) }.Build(key);

        HardwareVerificationReport result = Milan.Verifier().Verify(report, Milan.Endorsements(other, vcek, Milan.Ask), SevSnpTestPki.At);

        Assert.True(result.Verified, string.Join("; ", result.Errors));
    }
}
