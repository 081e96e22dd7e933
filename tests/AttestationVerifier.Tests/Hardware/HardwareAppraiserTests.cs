using System.Security.Cryptography;
using System.Text;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.AttestationVerifier.Tests.Hardware;

public sealed class HardwareAppraiserTests
{
    private const string MrEnclave = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb";
    private const string MrSigner = "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6";
    private static readonly byte[] s_runtime = Encoding.UTF8.GetBytes("{\"keys\":[]}");

    [Fact]
    public void Genuine_up_to_date_non_debug_evidence_passes_the_default_policy()
    {
        Assert.Empty(HardwareAppraiser.Appraise(Report(), AppraisalPolicy.Default, s_runtime, checkRuntimeData: true));
    }

    [Fact]
    public void Evidence_that_is_not_genuine_never_passes()
    {
        HardwareVerificationReport report = Report() with { Verified = false, Errors = [new(VerificationCodes.ChainInvalid, "x")] };
        AppraisalViolation violation = Assert.Single(HardwareAppraiser.Appraise(report, AppraisalPolicy.Default, s_runtime, true));
        Assert.Equal(AppraisalViolationCode.NotGenuine, violation.Code);
        Assert.Contains(VerificationCodes.ChainInvalid, violation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Debug_is_rejected_unless_the_policy_allows_it()
    {
        HardwareVerificationReport report = Report(debug: true);
        Assert.Contains(HardwareAppraiser.Appraise(report, AppraisalPolicy.Default, s_runtime, true), v => v.Code == AppraisalViolationCode.DebugNotAllowed);
        Assert.Empty(HardwareAppraiser.Appraise(report, AppraisalPolicy.Default with { AllowDebug = true }, s_runtime, true));
    }

    [Theory]
    [InlineData(TcbStatus.SWHardeningNeeded)]
    [InlineData(TcbStatus.ConfigurationAndSWHardeningNeeded)]
    [InlineData(TcbStatus.OutOfDate)]
    [InlineData(TcbStatus.Revoked)]
    [InlineData(null)]
    public void Only_up_to_date_tcb_passes_by_default(string? status)
    {
        HardwareVerificationReport report = Report() with { TcbStatus = status };
        Assert.Contains(HardwareAppraiser.Appraise(report, AppraisalPolicy.Default, s_runtime, true), v => v.Code == AppraisalViolationCode.TcbStatusNotAllowed);
        if (status is not null)
        {
            AppraisalPolicy lenient = AppraisalPolicy.Default with { AllowedTcbStatuses = [TcbStatus.UpToDate, status] };
            Assert.Empty(HardwareAppraiser.Appraise(report, lenient, s_runtime, true));
        }
    }

    [Fact]
    public void Measurement_signer_and_svn_rules_each_report_their_own_violation()
    {
        AppraisalPolicy policy = AppraisalPolicy.Default with
        {
            AllowedMeasurements = [new string('a', 64)],
            AllowedSigners = [new string('b', 64)],
            MinimumSvn = 5,
            MinimumSvns = new Dictionary<string, int> { ["isv_prod_id"] = 1, ["absent_svn"] = 0 },
            Measurements = new Dictionary<string, IReadOnlyList<string>> { ["mr_signer_x"] = [new string('c', 64)] },
        };

        AppraisalViolationCode[] codes = [.. HardwareAppraiser.Appraise(Report(), policy, s_runtime, true).Select(v => v.Code)];

        Assert.Equal(
            [
                AppraisalViolationCode.SvnTooLow,
                AppraisalViolationCode.SvnTooLow,
                AppraisalViolationCode.SvnTooLow,
                AppraisalViolationCode.MeasurementNotAllowed,
                AppraisalViolationCode.MeasurementNotAllowed,
                AppraisalViolationCode.SignerNotAllowed,
            ],
            codes);
    }

    [Fact]
    public void Allowed_values_pass()
    {
        AppraisalPolicy policy = AppraisalPolicy.Default with
        {
            AllowedMeasurements = [MrEnclave.ToUpperInvariant()],
            AllowedSigners = [MrSigner],
            MinimumSvn = 3,
            MinimumSvns = new Dictionary<string, int> { ["isv_prod_id"] = 0 },
            Measurements = new Dictionary<string, IReadOnlyList<string>> { ["mr_enclave"] = [new string('0', 64), MrEnclave] },
        };

        Assert.Empty(HardwareAppraiser.Appraise(Report(), policy, s_runtime, true));
    }

    [Fact]
    public void Report_data_must_bind_the_runtime_data_when_it_is_given()
    {
        HardwareVerificationReport report = Report();
        Assert.Contains(HardwareAppraiser.Appraise(report, AppraisalPolicy.Default, "other"u8, true), v => v.Code == AppraisalViolationCode.ReportDataMismatch);
        Assert.Empty(HardwareAppraiser.Appraise(report, AppraisalPolicy.Default, "other"u8, checkRuntimeData: false));
    }

    [Fact]
    public void Report_data_binding_accepts_sha512_and_zero_padded_sha256_and_nothing_else()
    {
        byte[] sha512 = SHA512.HashData(s_runtime);
        byte[] sha256Padded = [.. SHA256.HashData(s_runtime), .. new byte[32]];
        byte[] sha256Dirty = [.. SHA256.HashData(s_runtime), .. new byte[31], 1];

        Assert.True(HardwareAppraiser.ReportDataBinds(sha512, s_runtime));
        Assert.True(HardwareAppraiser.ReportDataBinds(sha256Padded, s_runtime));
        Assert.False(HardwareAppraiser.ReportDataBinds(sha256Dirty, s_runtime));
        Assert.False(HardwareAppraiser.ReportDataBinds(new byte[64], s_runtime));
        Assert.False(HardwareAppraiser.ReportDataBinds([], s_runtime));
    }

    [Fact]
    public void Policy_json_round_trips_the_hardware_rules_and_rejects_bad_hex()
    {
        AppraisalPolicy policy = AppraisalPolicy.FromJson("""
            {"version":1,"minimumSvns":{"guest_svn":2},"measurements":{"rtmr0":["AB01"]}}
            """);
        Assert.Equal(2, policy.MinimumSvns!["guest_svn"]);
        Assert.Equal(["ab01"], policy.Measurements!["rtmr0"]);
        Assert.Throws<InvalidDataException>(() => AppraisalPolicy.FromJson("""{"measurements":{"rtmr0":["xyz"]}}"""));
        Assert.Throws<InvalidDataException>(() => AppraisalPolicy.FromJson("""{"minimumSvns":{"guest_svn":-1}}"""));
    }

    private static HardwareVerificationReport Report(bool debug = false) => new(
        "sgx",
        Verified: true,
        TcbStatus.UpToDate,
        new Dictionary<string, string>(),
        [],
        new HardwareIdentity(
            debug,
            new Dictionary<string, string> { ["mr_enclave"] = MrEnclave },
            MrSigner,
            new Dictionary<string, long> { ["isv_svn"] = 3, ["isv_prod_id"] = 0 },
            SHA512.HashData(s_runtime),
            "sgx:00a067110000:d04ec06d4e6d92dc90d0ad3cf5ee2ddf",
            new Dictionary<string, object>()));
}
