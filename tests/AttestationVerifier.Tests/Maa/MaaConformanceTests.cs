using System.Text;
using System.Text.Json;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.Maa;
using Enclave.AttestationVerifier.Tests.Support;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Maa;

namespace Enclave.AttestationVerifier.Tests.Maa;

public sealed class MaaConformanceTests
{
    public const string SgxEnclave = "sharedwus-sgx-enclave-2022-05-31";
    public const string RuntimeJson = "sharedwus-openenclave-runtime-json-2022-05-31";
    public const string DraftUnsigned = "sharedwus-draft-policy-unsigned-2022-05-31";
    public const string SharedWus = "https://sharedwus.wus.attest.azure.net";

    public static TheoryData<string> Samples => new(SgxEnclave, RuntimeJson, DraftUnsigned);

    internal static byte[] Token(string sample) => File.ReadAllBytes(TestData.PathOf("maa", sample, "token.jwt"));

    internal static EndorsementSet Jwks(string sample) => EndorsementSet.Load([TestData.PathOf("maa", sample, "jwks.json")]);

    internal static DateTimeOffset At(string sample) => ExpectedFields.VerificationTime(ExpectedFields.Load("maa", sample));

    [Theory]
    [MemberData(nameof(Samples))]
    public void Sample_has_the_expected_outcome_and_every_field(string sample)
    {
        JsonElement expected = ExpectedFields.Load("maa", sample);
        HardwareVerificationReport report = new MaaVerifier().Verify(Token(sample), Jwks(sample), At(sample));

        bool accept = expected.GetProperty("expected").GetProperty("outcome").GetString() == "accept";
        Assert.Equal(accept, report.Verified);
        if (accept)
        {
            Assert.Empty(report.Errors);
        }
        else
        {
            Assert.Equal([VerificationCodes.AlgorithmNotAllowed], report.Errors.Select(e => e.Code));
        }

        Assert.Null(report.TcbStatus);
        Assert.Equal("maa", report.Kind);
        foreach ((string path, string? value) in ExpectedFields.Flatten(expected.GetProperty("fields")))
        {
            Assert.True(report.Claims.TryGetValue(path, out string? actual), $"{path} is missing");
            Assert.Equal(value, actual);
        }

        foreach ((string path, string? value) in ExpectedFields.Flatten(expected.GetProperty("expected").GetProperty("observed_by_independent_check").GetProperty("header")))
        {
            Assert.Equal(value, report.Claims[$"header.{path}"]);
        }
    }

    [Fact]
    public void Runtime_json_sample_has_no_enclave_held_data_claim_as_the_source_asserts()
    {
        HardwareVerificationReport report = new MaaVerifier().Verify(Token(RuntimeJson), Jwks(RuntimeJson), At(RuntimeJson));
        Assert.True(report.Verified);
        Assert.DoesNotContain(report.Claims.Keys, k => k.StartsWith("claims.x-ms-sgx-ehd", StringComparison.Ordinal));
        Assert.Equal("P-256", report.Claims["claims.x-ms-runtime.jwk.crv"]);
    }

    [Theory]
    [InlineData(SgxEnclave)]
    [InlineData(RuntimeJson)]
    public void Identity_is_normalised_and_says_debug(string sample)
    {
        HardwareVerificationReport report = new MaaVerifier(SharedWus).Verify(Token(sample), Jwks(sample), At(sample));
        Assert.True(report.Verified, string.Join("; ", report.Errors));
        HardwareIdentity identity = report.Identity!;

        Assert.True(identity.Debug);
        Assert.Equal("292a1f4b519e46627eb2478a3d9851405653c5b4b0a6925de843834d9216850e", identity.Measurements["mr_enclave"]);
        Assert.Equal("4aea5f9a0ed04b11f889aadfe6a1d376213a29a95a85ce7337ae6f7fece6610c", identity.Signer);
        Assert.Equal(1, identity.Svns["isv_svn"]);
        Assert.Equal(1, identity.Svns["isv_prod_id"]);
        Assert.Equal(report.Claims["claims.x-ms-sgx-report-data"], Convert.ToHexStringLower(identity.ReportData.Span));
        Assert.Equal($"maa:{SharedWus}", identity.PlatformId);
        Assert.Equal("sgx", identity.TokenClaims["x-ms-attestation-type"]);
        Assert.Equal(true, identity.TokenClaims["x-ms-sgx-is-debuggable"]);
        Assert.Equal(1L, identity.TokenClaims["x-ms-sgx-svn"]);
    }

    [Fact]
    public void Expected_issuer_can_come_from_an_openid_configuration_endorsement()
    {
        byte[] openId = Encoding.UTF8.GetBytes($$"""{"issuer":"{{SharedWus}}","jwks_uri":"{{SharedWus}}/certs"}""");
        byte[] jwks = File.ReadAllBytes(TestData.PathOf("maa", SgxEnclave, "jwks.json"));
        EndorsementSet endorsements = EndorsementSet.FromFiles([("openid-configuration.json", openId), ("jwks.json", jwks)]);

        Assert.True(new MaaVerifier().Verify(Token(SgxEnclave), endorsements, At(SgxEnclave)).Verified);
    }

    [Fact]
    public void Debug_is_false_only_when_every_debuggable_claim_says_false()
    {
        using TestMaaIssuer issuer = TestMaaIssuer.Create("ES256");
        var verifier = new MaaVerifier(TestMaaIssuer.Issuer);
        HardwareVerificationReport production = verifier.Verify(Encoding.ASCII.GetBytes(issuer.Token()), issuer.Endorsements(), TestMaaIssuer.At);
        HardwareVerificationReport unknown = verifier.Verify(
            Encoding.ASCII.GetBytes(issuer.Token(editClaims: c => c.Remove("x-ms-sgx-is-debuggable"))), issuer.Endorsements(), TestMaaIssuer.At);

        Assert.True(production.Verified, string.Join("; ", production.Errors));
        Assert.False(production.Identity!.Debug);
        Assert.True(unknown.Verified);
        Assert.True(unknown.Identity!.Debug);
    }

    [Theory]
    [InlineData("ES256")]
    [InlineData("ES384")]
    [InlineData("RS256")]
    [InlineData("PS256")]
    public void Each_allowed_algorithm_verifies(string alg)
    {
        using TestMaaIssuer issuer = TestMaaIssuer.Create(alg);
        HardwareVerificationReport report = new MaaVerifier(TestMaaIssuer.Issuer)
            .Verify(Encoding.ASCII.GetBytes(issuer.Token() + "\n"), issuer.Endorsements(), TestMaaIssuer.At);

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal(alg, report.Claims["header.alg"]);
        Assert.Equal("7", report.Claims["claims.x-ms-sgx-svn"]);
        Assert.Equal("false", report.Claims["claims.x-ms-sgx-is-debuggable"]);
    }

    [Fact]
    public void Token_carrying_a_tcb_status_reports_it()
    {
        using TestMaaIssuer issuer = TestMaaIssuer.Create("ES256");
        HardwareVerificationReport report = new MaaVerifier(TestMaaIssuer.Issuer).Verify(
            Encoding.ASCII.GetBytes(issuer.Token(editClaims: c => c["attester_tcb_status"] = "OutOfDate")), issuer.Endorsements(), TestMaaIssuer.At);
        Assert.True(report.Verified);
        Assert.Equal("OutOfDate", report.TcbStatus);
    }

    [Theory]
    [InlineData("https://sharedwus.wus.attest.azure.net/certs", "https://sharedwus.wus.attest.azure.net")]
    [InlineData("https://attest.example:8443/tenant/certs", "https://attest.example:8443")]
    public void Cli_issuer_is_the_origin_of_the_jwks_address(string jwksUri, string issuer)
    {
        Assert.Equal(issuer, MaaVerifierOptions.IssuerFromJwksUri(jwksUri));
    }

    [Theory]
    [InlineData("http://sharedwus.wus.attest.azure.net/certs")]
    [InlineData("certs")]
    public void Jwks_address_must_be_absolute_https(string jwksUri)
    {
        Assert.Throws<ArgumentException>(() => MaaVerifierOptions.IssuerFromJwksUri(jwksUri));
    }

    [Fact]
    public void Recognizes_tokens_only()
    {
        var verifier = new MaaVerifier();
        Assert.True(verifier.Recognizes(Token(SgxEnclave)));
        Assert.False(verifier.Recognizes([0x84, 0x44]));
        Assert.False(verifier.Recognizes("eyJ"u8));
    }

    [Fact]
    public void Parser_throws_only_its_format_exception_for_every_truncation_of_a_real_token()
    {
        byte[] token = Token(SgxEnclave);
        int parsed = 0;
        for (int length = 0; length < token.Length; length++)
        {
            try
            {
                MaaToken.Parse(token.AsSpan(0, length));
                parsed++;
            }
            catch (EvidenceFormatException e)
            {
                Assert.Equal(EvidenceFormat.Maa, e.Format);
            }
        }

        // Only cuts inside the signature part can still parse (as a shorter signature).
        int signatureStart = Array.LastIndexOf(token, (byte)'.') + 1;
        Assert.InRange(parsed, 1, token.Length - signatureStart);
    }
}
