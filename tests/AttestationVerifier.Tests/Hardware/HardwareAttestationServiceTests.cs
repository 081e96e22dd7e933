using System.Security.Cryptography;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Tests.Support;
using Enclave.AttestationVerifier.Tokens;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.AttestationVerifier.Tests.Hardware;

/// <summary>The verifier service with real hardware evidence: verification, appraisal and token claims.</summary>
public sealed class HardwareAttestationServiceTests : IDisposable
{
    private readonly VerifierTestContext _context = new();

    [Fact]
    public void The_service_accepts_every_hardware_kind_but_azure_tokens()
    {
        AttestationService service = _context.CreateService();
        Assert.Equal(
            ["nitro", "sev-snp", "sgx", "simulated", "tdx"],
            service.SupportedFormats.Select(f => f.Value).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Genuine_tdx_evidence_reaches_appraisal_which_names_every_violation()
    {
        string sample = TestData.PathOf("tdx", "dcap-qvl-tdx-v4-uptodate-2025");
        _context.Time.Set(DateTimeOffset.Parse("2025-07-19T10:00:34Z", System.Globalization.CultureInfo.InvariantCulture));
        AttestationService service = _context.CreateService(configure: o => o.CollateralPaths.Add(Path.Combine(sample, "collateral.json")));

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Tdx, File.ReadAllBytes(Path.Combine(sample, "quote.bin")), RuntimeDataBuilder.Create());

        Assert.Equal(AttestationError.PolicyViolation, outcome.Error);
        AppraisalViolationCode[] codes = [.. outcome.Violations.Select(v => v.Code)];
        Assert.Contains(AppraisalViolationCode.ReportDataMismatch, codes);
        Assert.Contains(AppraisalViolationCode.PlatformNotEnrolled, codes);
        Assert.DoesNotContain(AppraisalViolationCode.TcbStatusNotAllowed, codes);
    }

    [Fact]
    public void Hardware_evidence_without_its_collateral_is_not_genuine()
    {
        string sample = TestData.PathOf("tdx", "dcap-qvl-tdx-v4-uptodate-2025");
        _context.Time.Set(DateTimeOffset.Parse("2025-07-19T10:00:34Z", System.Globalization.CultureInfo.InvariantCulture));
        AttestationService service = _context.CreateService();

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Tdx, File.ReadAllBytes(Path.Combine(sample, "quote.bin")), RuntimeDataBuilder.Create());

        Assert.Equal(AttestationError.EvidenceNotVerified, outcome.Error);
        Assert.Equal(VerificationError.HardwareNotGenuine, outcome.VerificationError);
    }

    [Fact]
    public void Malformed_hardware_evidence_is_reported_as_malformed()
    {
        AttestationService service = _context.CreateService();
        AttestationOutcome outcome = service.Attest(EvidenceFormat.SevSnp, new byte[100], RuntimeDataBuilder.Create());
        Assert.Equal(AttestationError.MalformedEvidence, outcome.Error);
    }

    [Fact]
    public void Tokens_for_hardware_carry_the_platform_claims_and_never_let_them_override_the_verifier_claims()
    {
        using VerifierSigningKey key = VerifierSigningKey.LoadOrCreate(_context.DataDirectory);
        TokenIssuer issuer = new(key, _context.CreateOptions(), _context.Time);
        byte[] runtime = RuntimeDataBuilder.Create();
        VerifiedEvidence evidence = new(
            EvidenceFormat.SevSnp,
            new byte[48],
            [],
            1,
            0,
            isDebug: false,
            SHA512.HashData(runtime),
            "sev-snp:00",
            TcbStatus.UpToDate,
            isSimulated: false,
            _context.Time.GetUtcNow(),
            new Dictionary<string, object>
            {
                ["x-ms-sevsnpvm-launchmeasurement"] = "ab",
                ["x-ms-sevsnpvm-guestsvn"] = 7L,
                ["x-ms-sevsnpvm-is-debuggable"] = false,
                ["iss"] = "https://evil.example",
            });

        IssuedToken token = issuer.Issue(evidence, runtime, "eu-west-1");

        Assert.Equal("ab", (string?)token.Claims["x-ms-sevsnpvm-launchmeasurement"]);
        Assert.Equal(7L, (long?)token.Claims["x-ms-sevsnpvm-guestsvn"]);
        Assert.Equal(VerifierTestContext.Issuer, (string?)token.Claims["iss"]);
        Assert.Equal("sevsnpvm", (string?)token.Claims["x-ms-attestation-type"]);
        Assert.False(token.Claims.ContainsKey("x-ms-sgx-mrenclave"));
        Assert.Equal("eu-west-1", (string?)token.Claims["x-enclave-region"]);
    }

    public void Dispose() => _context.Dispose();
}
