using System.Text.Json;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Dcap;

namespace Enclave.AttestationVerifier.Tests.Dcap;

public sealed class DcapConformanceTests
{
    public static TheoryData<string, string, string?> Samples => new()
    {
        { "sgx", "dcap-qvl-sgx-v3-processor-ca-2025", null },
        { "sgx", "dcap-qvl-sgx-v3-processor-ca-2023", null },
        { "sgx", "intel-qvl-sampledata-synthetic-root", VerificationCodes.UntrustedRoot },
        { "tdx", "dcap-qvl-tdx-v4-uptodate-2025", null },
        { "tdx", "dcap-qvl-tdx-v5-no-matching-tcb-2026", VerificationCodes.TcbLevelNotFound },
        { "tdx", "go-tdx-guest-v4-spr-e4-no-matching-tcb-2023", VerificationCodes.TcbLevelNotFound },
        { "tdx", "dcap-qvl-tdx-v4-with-sgx-collateral-2024", VerificationCodes.CollateralMismatch },
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void Vector_verifies_as_expected_at_its_instant(string kind, string name, string? rejectCode)
    {
        DcapVector vector = DcapVector.Load(kind, name);
        IHardwareVerifier verifier = kind == "sgx" ? new SgxVerifier() : new TdxVerifier();
        Assert.True(verifier.Recognizes(vector.Quote));

        HardwareVerificationReport report = verifier.Verify(vector.Quote, vector.Endorsements(), vector.At);

        JsonElement expected = vector.Expected.GetProperty("expected");
        bool accept = expected.GetProperty("outcome").GetString() == "accept";
        Assert.Equal(kind, report.Kind);
        Assert.True(accept == report.Verified, string.Join("; ", report.Errors));
        if (rejectCode is not null)
        {
            Assert.Contains(report.Errors, e => e.Code == rejectCode);
        }

        if (accept)
        {
            Assert.Equal(expected.GetProperty("tcb_status").GetString(), report.TcbStatus);
            string[] advisories = expected.GetProperty("advisory_ids").EnumerateArray().Select(a => a.GetString()!).ToArray();
            Assert.Equal(string.Join(',', advisories), report.Claims["advisory_ids"]);
        }

        foreach ((string path, string value) in DcapVector.Flatten(vector.Expected.GetProperty("fields")))
        {
            Assert.True(report.Claims.TryGetValue(path, out string? actual), $"claim {path} is missing");
            Assert.Equal(value, actual);
        }

        if (expected.TryGetProperty("asserted_by_source", out JsonElement asserted))
        {
            // Values the source asserts: compared where we have the claim; for accepted samples every value must
            // appear somewhere (rejected samples' assertions are partly prose about other verifiers).
            foreach ((string path, string value) in DcapVector.Flatten(asserted))
            {
                string claim = path.StartsWith("pck_extensions.", StringComparison.Ordinal) ? "pck." + path["pck_extensions.".Length..] : path;
                if (report.Claims.TryGetValue(claim, out string? actual))
                {
                    Assert.Equal(value, actual);
                }
                else if (accept)
                {
                    Assert.Contains(value, report.Claims.Values);
                }
            }
        }

        Assert.NotNull(report.Identity);
        Assert.False(report.Identity.Debug);
        Assert.StartsWith(kind + ":", report.Identity.PlatformId, StringComparison.Ordinal);
    }
}

public sealed class DcapSyntheticRootTests
{
    [Fact]
    public void Synthetic_sample_verifies_when_its_own_root_is_the_anchor()
    {
        // The sample is internally consistent (type 1 PPID certification data, TCB info v2, PEM CRLs): with its
        // synthetic root injected as the anchor it verifies as the collector observed, UpToDate.
        DcapVector vector = DcapVector.Load("sgx", "intel-qvl-sampledata-synthetic-root");
        using var root = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(
            File.ReadAllText(Path.Combine(vector.Folder, "trusted_root_ca_cert_SYNTHETIC.pem")));
        var verifier = new SgxVerifier(root, Enclave.AttestationVerifier.Endorsements.Dcap.EndorsementCollateralSource.Instance);

        HardwareVerificationReport report = verifier.Verify(vector.Quote, vector.Endorsements(), vector.At);

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal(TcbStatus.UpToDate, report.TcbStatus);
        Assert.Equal("1", report.Claims["certification_data_type"]);
        Assert.Equal("00707f000000", report.Claims["pck.fmspc"]);
    }
}

public sealed class DcapEndorsementLoadingTests
{
    [Fact]
    public void Collateral_json_with_pem_strings_inside_is_a_document_not_a_pem_file()
    {
        DcapVector vector = DcapVector.Load("sgx", "dcap-qvl-sgx-v3-processor-ca-2025");

        Enclave.AttestationVerifier.Endorsements.EndorsementSet set = vector.Endorsements();

        Assert.Single(set.Documents);
        Assert.Single(set.Certificates);
        Assert.Equal("44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3",
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(set.Certificates[0].RawData)));
    }
}
