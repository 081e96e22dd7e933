using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.SevSnp;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.SevSnp;

namespace Enclave.AttestationVerifier.Tests.SevSnp;

public sealed class SevSnpConformanceTests
{
    public static TheoryData<string> Samples => [.. SevSnpVectors.All];

    [Theory]
    [MemberData(nameof(Samples))]
    public void Sample_verifies_at_its_instant_with_up_to_date_tcb(string sample)
    {
        HardwareVerificationReport report = Verify(sample);

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal(TcbStatus.UpToDate, report.TcbStatus);
        Assert.Equal("sev-snp", report.Kind);
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_expected_field_equals_its_claim(string sample)
    {
        HardwareVerificationReport report = Verify(sample);

        Dictionary<string, string> fields = SevSnpVectors.Fields(sample);
        Assert.NotEmpty(fields);
        foreach ((string path, string expected) in fields)
        {
            Assert.True(report.Claims.TryGetValue(path, out string? actual), $"claim '{path}' is missing");
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Values_asserted_by_go_sev_guest_appear_in_the_claims()
    {
        HardwareVerificationReport report = Verify(SevSnpVectors.DebugPolicy);
        JsonElement asserted = SevSnpVectors.Expected(SevSnpVectors.DebugPolicy).GetProperty("expected").GetProperty("asserted_by_source");

        foreach (string name in new[] { "chip_id", "report_data", "host_data", "family_id", "image_id", "report_id", "report_id_ma", "measurement" })
        {
            Assert.Equal(asserted.GetProperty(name).GetString(), report.Claims[name]);
        }

        Assert.Equal(asserted.GetProperty("reported_tcb_uint64").GetRawText(), report.Claims["reported_tcb.raw"]);
        Assert.Equal(asserted.GetProperty("minimum_launch_tcb").GetRawText(), report.Claims["launch_tcb.raw"]);
        Assert.Equal(asserted.GetProperty("vmpl").GetRawText(), report.Claims["vmpl"]);
        Assert.Equal("0x" + asserted.GetProperty("platform_info").GetRawText(), report.Claims["platform_info"]);
        Assert.Equal("1.49", report.Claims["current_major"] + "." + report.Claims["current_minor"]);
        Assert.Equal("blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68",
            $"blSPL={report.Claims["vek.spl_1"]}&teeSPL={report.Claims["vek.spl_2"]}&snpSPL={report.Claims["vek.spl_3"]}&ucodeSPL={report.Claims["vek.spl_8"]}");
        Assert.Equal(asserted.GetProperty("chip_id").GetString(), report.Claims["vek.hwid"]);
        Assert.Equal("true", report.Claims["policy_debug_allowed"]);
        Assert.Equal("true", report.Claims["policy_smt_allowed"]);
    }

    [Fact]
    public void Values_asserted_by_trustee_appear_in_the_claims()
    {
        HardwareVerificationReport report = Verify(SevSnpVectors.VlekV3);

        Assert.True(report.Verified);
        Assert.Equal("vlek", report.Claims["vek.kind"]);
        Assert.Equal("vlek", report.Claims["flags.signing_key"]);
        Assert.Contains("CN=SEV-VLEK-Milan", report.Claims["vek.issuer"], StringComparison.Ordinal);
        Assert.Equal("Milan", report.Claims["product"]);
    }

    [Fact]
    public void Debug_policy_sample_is_genuine_but_identity_says_debug()
    {
        HardwareVerificationReport report = Verify(SevSnpVectors.DebugPolicy);

        Assert.True(report.Verified);
        Assert.NotNull(report.Identity);
        Assert.True(report.Identity.Debug);
        Assert.Equal(true, report.Identity.TokenClaims["x-ms-sevsnpvm-is-debuggable"]);
    }

    [Fact]
    public void Identity_of_a_vcek_report_is_normalised()
    {
        HardwareVerificationReport report = Verify(SevSnpVectors.Vcek);
        Dictionary<string, string> fields = SevSnpVectors.Fields(SevSnpVectors.Vcek);
        HardwareIdentity identity = Assert.IsType<HardwareIdentity>(report.Identity);

        Assert.False(identity.Debug);
        Assert.Equal("sev-snp:" + fields["chip_id"], identity.PlatformId);
        Assert.Equal(fields["measurement"], identity.Measurements["measurement"]);
        Assert.Equal(fields["host_data"], identity.Measurements["host_data"]);
        Assert.Null(identity.Signer);
        Assert.Equal(Convert.FromHexString(fields["report_data"]), identity.ReportData.ToArray());
        Assert.Equal(0, identity.Svns["guest_svn"]);
        Assert.Equal(3, identity.Svns["bootloader_svn"]);
        Assert.Equal(8, identity.Svns["snp_svn"]);
        Assert.Equal(115, identity.Svns["microcode_svn"]);
        Assert.Equal("sevsnpvm", identity.TokenClaims["x-ms-attestation-type"]);
        Assert.Equal(fields["measurement"], identity.TokenClaims["x-ms-sevsnpvm-launchmeasurement"]);
        Assert.Equal(fields["host_data"], identity.TokenClaims["x-ms-sevsnpvm-hostdata"]);
        Assert.Equal(fields["report_data"], identity.TokenClaims["x-ms-sevsnpvm-reportdata"]);
        Assert.Equal(fields["report_id"], identity.TokenClaims["x-ms-sevsnpvm-reportid"]);
        Assert.Equal(false, identity.TokenClaims["x-ms-sevsnpvm-is-debuggable"]);
        Assert.Equal(0L, identity.TokenClaims["x-ms-sevsnpvm-vmpl"]);
        Assert.Equal(0L, identity.TokenClaims["x-ms-sevsnpvm-guestsvn"]);
        Assert.Equal(3L, identity.TokenClaims["x-ms-sevsnpvm-bootloader-svn"]);
        Assert.Equal(0L, identity.TokenClaims["x-ms-sevsnpvm-tee-svn"]);
        Assert.Equal(8L, identity.TokenClaims["x-ms-sevsnpvm-snpfw-svn"]);
        Assert.Equal(115L, identity.TokenClaims["x-ms-sevsnpvm-microcode-svn"]);
        Assert.Equal(fields["family_id"], identity.TokenClaims["x-ms-sevsnpvm-familyId"]);
        Assert.Equal(fields["image_id"], identity.TokenClaims["x-ms-sevsnpvm-imageId"]);
        Assert.Equal(fields["id_key_digest"], identity.TokenClaims["x-ms-sevsnpvm-idkeydigest"]);
        Assert.Equal(fields["author_key_digest"], identity.TokenClaims["x-ms-sevsnpvm-authorkeydigest"]);
    }

    [Fact]
    public void Identity_of_a_vlek_report_names_the_vlek_certificate()
    {
        HardwareVerificationReport report = Verify(SevSnpVectors.VlekV3);

        string vlekHash = "296a7c99053efe4b1e480bb76d421fd24633d245f3e34708399a18a7713b7a7c";
        Assert.Equal("sev-snp-vlek:" + vlekHash, report.Identity!.PlatformId);
        Assert.Equal(1L, report.Identity.TokenClaims["x-ms-sevsnpvm-vmpl"]);
    }

    [Fact]
    public void Embedded_arks_are_self_signed_genuine_amd_roots_pinned_by_hash()
    {
        Assert.Equal(3, AmdRootCertificates.All.Count);
        foreach ((var product, var root) in AmdRootCertificates.All)
        {
            Assert.Equal("ARK-" + product, root.GetNameInfo(System.Security.Cryptography.X509Certificates.X509NameType.SimpleName, false));
            Assert.Contains("O=Advanced Micro Devices", root.Subject, StringComparison.Ordinal);
            Assert.True(IsPssSha384SelfSigned(root));
        }

        byte[] vectorArk = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(
            File.ReadAllText(Path.Combine(SevSnpVectors.Folder(SevSnpVectors.Vcek), "ark_milan.pem"))).RawData;
        Assert.Equal(AmdRootCertificates.MilanSha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(vectorArk)));
    }

    private static bool IsPssSha384SelfSigned(X509Certificate2 certificate)
    {
        // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
        AsnReader outer = new AsnReader(certificate.RawData, AsnEncodingRules.DER).ReadSequence();
        ReadOnlyMemory<byte> tbs = outer.ReadEncodedValue();
        (string oid, string? hash) = CertificateChain.ReadSignatureAlgorithm(outer.ReadSequence());
        byte[] signature = outer.ReadBitString(out _);
        using RSA key = certificate.GetRSAPublicKey()!;
        return oid == CertificateChain.RsaPssOid && hash == CertificateChain.Sha384Oid
            && key.VerifyData(tbs.Span, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
    }

    private static HardwareVerificationReport Verify(string sample) =>
        new SevSnpVerifier().Verify(SevSnpVectors.Report(sample), SevSnpVectors.Endorsements(sample), SevSnpVectors.VerificationTime(sample));
}
