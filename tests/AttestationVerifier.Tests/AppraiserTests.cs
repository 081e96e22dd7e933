using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Nodes;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.AttestationVerifier.Tests;

public sealed class AppraiserTests
{
    private const string PlatformIdValue = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    private static readonly byte[] s_measurement = SHA256.HashData("measurement"u8);
    private static readonly byte[] s_signer = SHA256.HashData("signer"u8);

    [Fact]
    public void Appraise_GoodEvidenceUnderTheDefaultPolicy_IsAllowedWithItsRegion()
    {
        byte[] runtimeData = RuntimeDataBuilder.Create("n-1");
        Appraiser appraiser = new(new Directory(PlatformIdValue, "eu-west-1"));

        AppraisalResult result = appraiser.Appraise(Evidence(runtimeData), runtimeData, AppraisalPolicy.Default);

        Assert.True(result.IsAllowed, string.Join("; ", result.Violations));
        Assert.Equal("eu-west-1", result.Region);
        Assert.Equal("n-1", result.RuntimeData!.Nonce);
        Assert.Equal("enc", result.RuntimeData.EncryptionKey.Use);
        Assert.Equal("sig", result.RuntimeData.SigningKey.Use);
    }

    [Fact]
    public void Appraise_EverythingWrong_ReportsEveryViolation()
    {
        byte[] runtimeData = "{\"nonce\":\"x\"}"u8.ToArray();
        VerifiedEvidence evidence = Evidence(new byte[10], debug: true, svn: 1, tcbStatus: TcbStatus.OutOfDate);
        AppraisalPolicy policy = new()
        {
            MinimumSvn = 2,
            AllowedMeasurements = [new string('a', 64)],
            AllowedSigners = [new string('b', 64)],
            AllowedFormats = ["sgx"],
        };
        Appraiser appraiser = new(new Directory());

        AppraisalResult result = appraiser.Appraise(evidence, runtimeData, policy);

        Assert.False(result.IsAllowed);
        Assert.Equal(
            [
                AppraisalViolationCode.FormatNotAllowed,
                AppraisalViolationCode.DebugNotAllowed,
                AppraisalViolationCode.TcbStatusNotAllowed,
                AppraisalViolationCode.SvnTooLow,
                AppraisalViolationCode.MeasurementNotAllowed,
                AppraisalViolationCode.SignerNotAllowed,
                AppraisalViolationCode.ReportDataMismatch,
                AppraisalViolationCode.RuntimeDataInvalid,
                AppraisalViolationCode.PlatformNotEnrolled,
            ],
            result.Violations.Select(v => v.Code));
        Assert.Null(result.Region);
    }

    [Theory]
    [InlineData(TcbStatus.SWHardeningNeeded)]
    [InlineData(TcbStatus.ConfigurationNeeded)]
    [InlineData(TcbStatus.ConfigurationAndSWHardeningNeeded)]
    [InlineData(TcbStatus.OutOfDate)]
    [InlineData(TcbStatus.OutOfDateConfigurationNeeded)]
    [InlineData(TcbStatus.Revoked)]
    public void Appraise_TcbStatusOtherThanUpToDate_IsRejectedByDefault(string status)
    {
        byte[] runtimeData = RuntimeDataBuilder.Create();
        Appraiser appraiser = new(new Directory(PlatformIdValue, "eu"));

        AppraisalResult result = appraiser.Appraise(Evidence(runtimeData, tcbStatus: status), runtimeData, AppraisalPolicy.Default);

        Assert.Equal(AppraisalViolationCode.TcbStatusNotAllowed, Assert.Single(result.Violations).Code);
    }

    [Fact]
    public void Appraise_MatchingAllowLists_CompareHexCaseInsensitively()
    {
        byte[] runtimeData = RuntimeDataBuilder.Create();
        AppraisalPolicy policy = new()
        {
            MinimumSvn = 3,
            AllowedMeasurements = [Convert.ToHexString(s_measurement)],
            AllowedSigners = [Convert.ToHexStringLower(s_signer)],
            AllowedFormats = ["simulated"],
        };
        Appraiser appraiser = new(new Directory(PlatformIdValue, "eu"));

        Assert.True(appraiser.Appraise(Evidence(runtimeData, svn: 3), runtimeData, policy).IsAllowed);
        Assert.Equal(AppraisalViolationCode.SvnTooLow, Assert.Single(appraiser.Appraise(Evidence(runtimeData, svn: 2), runtimeData, policy).Violations).Code);
    }

    [Fact]
    public void Appraise_EmptyAllowList_AllowsNothing()
    {
        byte[] runtimeData = RuntimeDataBuilder.Create();
        Appraiser appraiser = new(new Directory(PlatformIdValue, "eu"));

        AppraisalResult result = appraiser.Appraise(Evidence(runtimeData), runtimeData, new AppraisalPolicy { AllowedMeasurements = [] });

        Assert.Equal(AppraisalViolationCode.MeasurementNotAllowed, Assert.Single(result.Violations).Code);
    }

    [Fact]
    public void Appraise_ReportDataOfAnotherHash_IsAMismatch()
    {
        byte[] runtimeData = RuntimeDataBuilder.Create();
        byte[] sha256Padded = new byte[64];
        SHA256.HashData(runtimeData).CopyTo(sha256Padded, 0);
        VerifiedEvidence evidence = new(EvidenceFormat.Simulated, s_measurement, s_signer, 3, 7, false, sha256Padded, PlatformIdValue, TcbStatus.UpToDate, true, DateTimeOffset.UnixEpoch);
        Appraiser appraiser = new(new Directory(PlatformIdValue, "eu"));

        AppraisalResult result = appraiser.Appraise(evidence, runtimeData, AppraisalPolicy.Default);

        Assert.Equal(AppraisalViolationCode.ReportDataMismatch, Assert.Single(result.Violations).Code);
    }

    public static TheoryData<string, string> InvalidRuntimeData()
    {
        JsonObject good = RuntimeDataBuilder.CreateObject();
        JsonNode enc = good["keys"]![0]!.DeepClone();
        JsonNode sig = good["keys"]![1]!.DeepClone();
        string Without(string member)
        {
            JsonObject copy = good.DeepClone().AsObject();
            copy.Remove(member);
            return copy.ToJsonString();
        }

        string With(string member, JsonNode? value)
        {
            JsonObject copy = good.DeepClone().AsObject();
            copy[member] = value;
            return copy.ToJsonString();
        }

        JsonObject privateEnc = enc.DeepClone().AsObject();
        privateEnc["d"] = "AAAA";
        JsonObject p384 = enc.DeepClone().AsObject();
        p384["crv"] = "P-384";
        string goodText = good.ToJsonString();
        return new TheoryData<string, string>
        {
            { "not JSON", "nonce=1" },
            { "an array", "[1,2]" },
            { "no nonce", Without("nonce") },
            { "numeric nonce", With("nonce", 5) },
            { "empty nonce", With("nonce", string.Empty) },
            { "no keys", Without("keys") },
            { "empty keys", With("keys", new JsonArray()) },
            { "no sig key", With("keys", new JsonArray(enc.DeepClone())) },
            { "no enc key", With("keys", new JsonArray(sig.DeepClone())) },
            { "private key", With("keys", new JsonArray(privateEnc, sig.DeepClone())) },
            { "wrong curve", With("keys", new JsonArray(p384, sig.DeepClone())) },
            { "key not an object", With("keys", new JsonArray("enc", sig.DeepClone())) },
            { "bad secagg", With("secagg", "key") },
            { "numeric round", With("round", 1) },
            { "duplicate nonce", goodText[..^1] + ",\"nonce\":\"other\"}" },
            { "trailing comma", goodText[..^1] + ",}" },
        };
    }

    [Theory]
    [MemberData(nameof(InvalidRuntimeData))]
    public void Appraise_InvalidRuntimeData_IsReported(string name, string json)
    {
        byte[] runtimeData = Encoding.UTF8.GetBytes(json);
        Appraiser appraiser = new(new Directory(PlatformIdValue, "eu"));

        AppraisalResult result = appraiser.Appraise(Evidence(runtimeData), runtimeData, AppraisalPolicy.Default);

        AppraisalViolation violation = Assert.Single(result.Violations);
        Assert.True(violation.Code == AppraisalViolationCode.RuntimeDataInvalid, name);
        Assert.Null(result.RuntimeData);
    }

    [Fact]
    public void Appraise_RuntimeDataNotUtf8_IsReported()
    {
        byte[] runtimeData = [0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d];
        Appraiser appraiser = new(new Directory(PlatformIdValue, "eu"));

        AppraisalResult result = appraiser.Appraise(Evidence(runtimeData), runtimeData, AppraisalPolicy.Default);

        Assert.Equal(AppraisalViolationCode.RuntimeDataInvalid, Assert.Single(result.Violations).Code);
    }

    private static VerifiedEvidence Evidence(byte[] runtimeData, bool debug = false, int svn = 3, string tcbStatus = TcbStatus.UpToDate) =>
        new(EvidenceFormat.Simulated, s_measurement, s_signer, svn, 7, debug, SHA512.HashData(runtimeData), PlatformIdValue, tcbStatus, true, DateTimeOffset.UnixEpoch);

    private sealed class Directory(params string[] platformAndRegion) : INodeDirectory
    {
        public NodeEnrollment? Find(string platformId) =>
            platformAndRegion.Length == 2 && platformAndRegion[0] == platformId
                ? new NodeEnrollment(platformId, platformAndRegion[1], DateTimeOffset.UnixEpoch, "team", "jws", 1)
                : null;
    }
}
