using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Tokens;
using Enclave.AttestationVerifier.Verification;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Tests;

public sealed class AttestationServiceTests : IDisposable
{
    private static readonly string[] s_sectionFourClaims =
    [
        "iss", "aud", "iat", "nbf", "exp", "jti", "x-ms-ver", "x-ms-attestation-type",
        "x-ms-sgx-mrenclave", "x-ms-sgx-mrsigner", "x-ms-sgx-is-debuggable", "x-ms-sgx-svn", "x-ms-sgx-product-id",
        "x-ms-sgx-report-data", "x-ms-runtime", "nonce", "x-enclave-region", "x-enclave-platform-id",
        "x-enclave-tcb-status", "x-enclave-simulated",
    ];

    private readonly VerifierTestContext _context = new();

    public void Dispose() => _context.Dispose();

    [Fact]
    public void Attest_GenuineEnrolledEvidence_IssuesATokenWithExactlyTheSectionFourClaims()
    {
        CapturingLogger logger = new();
        AttestationService service = _context.CreateService(logger);
        _context.Enroll(service);
        JsonObject runtimeObject = RuntimeDataBuilder.CreateObject("broker-nonce-42");
        byte[] runtimeData = RuntimeDataBuilder.ToBytes(runtimeObject);
        SimulatedEvidenceBuilder builder = _context.Evidence(runtimeData);

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, builder.Build(), runtimeData);

        Assert.True(outcome.Succeeded, outcome.Message);
        Assert.Null(outcome.Error);
        JwkSet jwks = JwkSet.Parse(service.GetJwks());
        JwtValidated validated = Jwt.Validate(outcome.Token!, new JwtValidationParameters
        {
            ValidIssuers = [VerifierTestContext.Issuer],
            ValidAudiences = ["enclave-key-broker"],
            KeyResolver = kid => kid is null ? null : jwks.Find(kid),
            AllowedAlgorithms = ["ES256"],
            Time = _context.Time,
        });

        Assert.Equal("ES256", validated.Header["alg"]!.GetValue<string>());
        Assert.Equal("JWT", validated.Header["typ"]!.GetValue<string>());
        Assert.Equal(service.SigningKeyId, validated.Header["kid"]!.GetValue<string>());
        Assert.Equal(jwks.Keys.Single().ComputeThumbprint(), service.SigningKeyId);

        JsonObject claims = validated.Claims;
        Assert.Equal(s_sectionFourClaims, claims.Select(c => c.Key).ToArray());
        long now = VerifierTestContext.Start.ToUnixTimeSeconds();
        Assert.Equal(VerifierTestContext.Issuer, claims["iss"]!.GetValue<string>());
        Assert.Equal("enclave-key-broker", claims["aud"]!.GetValue<string>());
        Assert.Equal(now, claims["iat"]!.GetValue<long>());
        Assert.Equal(now, claims["nbf"]!.GetValue<long>());
        Assert.Equal(now + 600, claims["exp"]!.GetValue<long>());
        Assert.Matches("^[0-9a-f]{32}$", claims["jti"]!.GetValue<string>());
        Assert.Equal(outcome.TokenId, claims["jti"]!.GetValue<string>());
        Assert.Equal("1.0", claims["x-ms-ver"]!.GetValue<string>());
        Assert.Equal("simulated", claims["x-ms-attestation-type"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(builder.Measurement), claims["x-ms-sgx-mrenclave"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(builder.Signer), claims["x-ms-sgx-mrsigner"]!.GetValue<string>());
        Assert.False(claims["x-ms-sgx-is-debuggable"]!.GetValue<bool>());
        Assert.Equal(3, claims["x-ms-sgx-svn"]!.GetValue<int>());
        Assert.Equal(7, claims["x-ms-sgx-product-id"]!.GetValue<int>());
        Assert.Equal(Convert.ToHexStringLower(SHA512.HashData(runtimeData)), claims["x-ms-sgx-report-data"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(runtimeObject, claims["x-ms-runtime"]));
        Assert.Equal("broker-nonce-42", claims["nonce"]!.GetValue<string>());
        Assert.Equal(VerifierTestContext.Region, claims["x-enclave-region"]!.GetValue<string>());
        Assert.Equal(_context.PlatformId, claims["x-enclave-platform-id"]!.GetValue<string>());
        Assert.Equal("UpToDate", claims["x-enclave-tcb-status"]!.GetValue<string>());
        Assert.True(claims["x-enclave-simulated"]!.GetValue<bool>());
        Assert.True(JsonNode.DeepEquals(claims, outcome.Claims));
        Assert.Equal(VerifierTestContext.Start.AddMinutes(10), outcome.ExpiresAt);

        Assert.Contains(logger.Lines, l => l.Message.Contains(outcome.TokenId!, StringComparison.Ordinal) && l.Message.Contains("SIMULATED", StringComparison.Ordinal));
    }

    [Fact]
    public void Attest_ConfiguredAudienceAndLifetime_AreUsed()
    {
        AttestationService service = _context.CreateService(configure: o =>
        {
            o.Audience = "custom-audience";
            o.TokenLifetime = TimeSpan.FromMinutes(3);
        });
        _context.Enroll(service);
        byte[] runtimeData = RuntimeDataBuilder.Create();

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, _context.Evidence(runtimeData).Build(), runtimeData);

        Assert.True(outcome.Succeeded, outcome.Message);
        Assert.Equal("custom-audience", outcome.Claims!["aud"]!.GetValue<string>());
        Assert.Equal(180, outcome.Claims["exp"]!.GetValue<long>() - outcome.Claims["iat"]!.GetValue<long>());
    }

    [Fact]
    public void Attest_FlippedBitAnywhereInTheEvidence_IssuesNoToken()
    {
        AttestationService service = _context.CreateService();
        _context.Enroll(service);
        byte[] runtimeData = RuntimeDataBuilder.Create();
        byte[] evidence = _context.Evidence(runtimeData).Build();
        Assert.True(service.Attest(EvidenceFormat.Simulated, evidence, runtimeData).Succeeded);

        for (int offset = 0; offset < evidence.Length; offset++)
        {
            byte[] copy = (byte[])evidence.Clone();
            copy[offset] ^= 0x01;

            AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, copy, runtimeData);

            Assert.False(outcome.Succeeded, $"a flipped bit at offset {offset} was accepted");
            Assert.NotNull(outcome.Error);
        }
    }

    [Theory]
    [InlineData("magic", 0, AttestationError.MalformedEvidence)]
    [InlineData("version", 8, AttestationError.MalformedEvidence)]
    [InlineData("flags", 10, AttestationError.EvidenceNotVerified)]
    [InlineData("product id", 12, AttestationError.EvidenceNotVerified)]
    [InlineData("svn", 14, AttestationError.EvidenceNotVerified)]
    [InlineData("measurement", 16, AttestationError.EvidenceNotVerified)]
    [InlineData("signer", 48, AttestationError.EvidenceNotVerified)]
    [InlineData("report data", 80, AttestationError.EvidenceNotVerified)]
    [InlineData("certificate length", 144, AttestationError.MalformedEvidence)]
    [InlineData("certificate", 160, AttestationError.EvidenceNotVerified)]
    public void Attest_FlippedField_FailsWithATypedError(string field, int offset, AttestationError expected)
    {
        AttestationService service = _context.CreateService();
        _context.Enroll(service);
        byte[] runtimeData = RuntimeDataBuilder.Create();
        byte[] evidence = _context.Evidence(runtimeData).Build();
        evidence[offset] ^= 0x01;

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, evidence, runtimeData);

        Assert.False(outcome.Succeeded, field);
        Assert.Equal(expected, outcome.Error);
        Assert.Null(outcome.Token);
    }

    [Fact]
    public void Attest_TruncatedEvidence_IsMalformedWithItsCode()
    {
        AttestationService service = _context.CreateService();
        byte[] runtimeData = RuntimeDataBuilder.Create();
        byte[] evidence = _context.Evidence(runtimeData).Build();

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, evidence[..100], runtimeData);

        Assert.Equal(AttestationError.MalformedEvidence, outcome.Error);
        Assert.Equal(EvidenceFormatError.Truncated, outcome.FormatError);
    }

    [Fact]
    public void Attest_SimulatedDisabled_IsRefusedWithItsOwnError()
    {
        CapturingLogger logger = new();
        AttestationService service = _context.CreateService(logger, allowSimulated: false);
        byte[] runtimeData = RuntimeDataBuilder.Create();

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, _context.Evidence(runtimeData).Build(), runtimeData);

        Assert.Equal(AttestationError.SimulatedNotAllowed, outcome.Error);
        Assert.Equal(VerificationError.SimulatedNotAllowed, outcome.VerificationError);
        Assert.Contains(logger.Lines, l => l.EventId.Id == 20);
    }

    [Fact]
    public void Attest_UnsupportedFormat_IsRefused()
    {
        AttestationService service = _context.CreateService();

        AttestationOutcome outcome = service.Attest(new EvidenceFormat("tpm"), new byte[] { 1, 2, 3 }, RuntimeDataBuilder.Create());

        Assert.Equal(AttestationError.UnsupportedFormat, outcome.Error);
        Assert.Equal(AttestationError.UnsupportedFormat, service.Attest(default, new byte[] { 1 }, new byte[] { 1 }).Error);
    }

    [Fact]
    public void Attest_OversizedInputs_AreRefusedBeforeParsing()
    {
        AttestationService service = _context.CreateService();

        Assert.Equal(AttestationError.RequestTooLarge, service.Attest(EvidenceFormat.Simulated, new byte[VerifierOptions.MaxEvidenceLength + 1], new byte[] { 1 }).Error);
        Assert.Equal(AttestationError.RequestTooLarge, service.Attest(EvidenceFormat.Simulated, new byte[] { 1 }, new byte[RuntimeData.MaxLength + 1]).Error);
    }

    [Fact]
    public void Attest_UnenrolledPlatform_IsRejected()
    {
        AttestationService service = _context.CreateService();
        byte[] runtimeData = RuntimeDataBuilder.Create();

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, _context.Evidence(runtimeData).Build(), runtimeData);

        Assert.Equal(AttestationError.PolicyViolation, outcome.Error);
        AppraisalViolation violation = Assert.Single(outcome.Violations);
        Assert.Equal(AppraisalViolationCode.PlatformNotEnrolled, violation.Code);
    }

    [Fact]
    public void Attest_DebugEvidence_IsRejectedByTheDefaultPolicy()
    {
        AttestationService service = _context.CreateService();
        _context.Enroll(service);
        byte[] runtimeData = RuntimeDataBuilder.Create();
        SimulatedEvidenceBuilder builder = _context.Evidence(runtimeData);
        builder.Flags = 1;

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, builder.Build(), runtimeData);

        Assert.Equal(AttestationError.PolicyViolation, outcome.Error);
        Assert.Equal(AppraisalViolationCode.DebugNotAllowed, Assert.Single(outcome.Violations).Code);
    }

    [Fact]
    public void Attest_DebugEvidenceUnderAPolicyThatAllowsIt_SaysSoInTheToken()
    {
        AttestationService service = _context.CreateService(configure: o => o.Policy = new AppraisalPolicy { AllowDebug = true });
        _context.Enroll(service);
        byte[] runtimeData = RuntimeDataBuilder.Create();
        SimulatedEvidenceBuilder builder = _context.Evidence(runtimeData);
        builder.Flags = 1;

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, builder.Build(), runtimeData);

        Assert.True(outcome.Succeeded, outcome.Message);
        Assert.True(outcome.Claims!["x-ms-sgx-is-debuggable"]!.GetValue<bool>());
    }

    [Fact]
    public void Attest_RuntimeDataOtherThanTheReportData_IsRejected()
    {
        AttestationService service = _context.CreateService();
        _context.Enroll(service);
        byte[] bound = RuntimeDataBuilder.Create("nonce-a");
        byte[] presented = RuntimeDataBuilder.Create("nonce-b");

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, _context.Evidence(bound).Build(), presented);

        Assert.Equal(AttestationError.PolicyViolation, outcome.Error);
        Assert.Equal(AppraisalViolationCode.ReportDataMismatch, Assert.Single(outcome.Violations).Code);
    }

    [Fact]
    public void Attest_RuntimeDataReserialised_IsRejected()
    {
        AttestationService service = _context.CreateService();
        _context.Enroll(service);
        byte[] bound = RuntimeDataBuilder.Create();
        byte[] reformatted = System.Text.Encoding.UTF8.GetBytes(JsonNode.Parse(bound)!.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, _context.Evidence(bound).Build(), reformatted);

        Assert.Equal(AppraisalViolationCode.ReportDataMismatch, Assert.Single(outcome.Violations).Code);
    }

    [Fact]
    public void Attest_ExpiredPlatformCertificate_IsNotVerified()
    {
        AttestationService service = _context.CreateService();
        _context.Enroll(service);
        byte[] runtimeData = RuntimeDataBuilder.Create();
        byte[] evidence = _context.Evidence(runtimeData).Build();
        _context.Time.Set(VerifierTestContext.Start.AddYears(3));

        AttestationOutcome outcome = service.Attest(EvidenceFormat.Simulated, evidence, runtimeData);

        Assert.Equal(AttestationError.EvidenceNotVerified, outcome.Error);
        Assert.Equal(VerificationError.CertificateExpired, outcome.VerificationError);
    }

    [Fact]
    public void Attest_EveryLogLineAboutSimulatedEvidence_SaysSimulated()
    {
        CapturingLogger logger = new();
        AttestationService service = _context.CreateService(logger);
        byte[] runtimeData = RuntimeDataBuilder.Create();
        byte[] evidence = _context.Evidence(runtimeData).Build();
        service.Attest(EvidenceFormat.Simulated, evidence, runtimeData);
        _context.Enroll(service);
        service.Attest(EvidenceFormat.Simulated, evidence, runtimeData);
        service.Attest(EvidenceFormat.Simulated, evidence[..50], runtimeData);
        byte[] tampered = (byte[])evidence.Clone();
        tampered[20] ^= 1;
        service.Attest(EvidenceFormat.Simulated, tampered, runtimeData);
        service.Attest(EvidenceFormat.Simulated, new byte[VerifierOptions.MaxEvidenceLength + 1], runtimeData);
        AttestationService disabled = _context.CreateService(logger, allowSimulated: false);
        disabled.Attest(EvidenceFormat.Simulated, evidence, runtimeData);

        var simulatedLines = logger.Lines.Where(l => l.EventId.Id is (>= 1 and <= 3) or (>= 20 and <= 29)).ToList();
        Assert.True(simulatedLines.Count >= 8);
        Assert.All(simulatedLines, l => Assert.Contains("SIMULATED", l.Message, StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Lines, l => l.EventId.Id is >= 10 and <= 19);
        Assert.Contains(logger.Lines, l => l.EventId.Id == 1 && l.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact]
    public void OpenIdConfiguration_PointsAtTheJwks()
    {
        AttestationService service = _context.CreateService();

        JsonObject metadata = JsonNode.Parse(service.GetOpenIdConfiguration())!.AsObject();

        Assert.Equal(VerifierTestContext.Issuer, metadata["issuer"]!.GetValue<string>());
        Assert.Equal(VerifierTestContext.Issuer + "/certs", metadata["jwks_uri"]!.GetValue<string>());
        Assert.Equal(["ES256"], metadata["id_token_signing_alg_values_supported"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(s_sectionFourClaims, metadata["claims_supported"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(OpenIdMetadata.JwksUri(VerifierTestContext.Issuer + "/"), metadata["jwks_uri"]!.GetValue<string>());
    }

    [Fact]
    public void Jwks_HoldsOnlyThePublicSigningKey()
    {
        AttestationService service = _context.CreateService();

        JsonObject jwks = JsonNode.Parse(service.GetJwks())!.AsObject();

        JsonObject key = Assert.Single(jwks["keys"]!.AsArray())!.AsObject();
        Assert.Equal("EC", key["kty"]!.GetValue<string>());
        Assert.Equal("P-256", key["crv"]!.GetValue<string>());
        Assert.Equal("sig", key["use"]!.GetValue<string>());
        Assert.Equal(service.SigningKeyId, key["kid"]!.GetValue<string>());
        Assert.False(key.ContainsKey("d"));
    }

    [Fact]
    public void SigningKey_SurvivesARestart()
    {
        string firstKid = _context.CreateService().SigningKeyId;

        string secondKid = _context.CreateService().SigningKeyId;

        Assert.Equal(firstKid, secondKid);
        string path = Path.Combine(_context.DataDirectory, VerifierSigningKey.FileName);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(path), StringComparison.Ordinal);
    }
}
