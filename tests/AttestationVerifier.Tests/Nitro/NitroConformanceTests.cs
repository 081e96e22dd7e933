using System.Text.Json;
using System.Text.RegularExpressions;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.Nitro;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.Nitro;
using Enclave.AttestationVerifier.Tests.Support;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Nitro;

namespace Enclave.AttestationVerifier.Tests.Nitro;

public sealed partial class NitroConformanceTests
{
    private readonly NitroVerifier _verifier = new();

    public static TheoryData<string> Samples => new(NitroSample.All);

    [Theory]
    [MemberData(nameof(Samples))]
    public void Sample_has_the_expected_outcome_and_every_field(string name)
    {
        NitroSample sample = NitroSample.Load(name);
        HardwareVerificationReport report = _verifier.Verify(sample.Document, EndorsementSet.Empty, sample.At);

        Assert.StartsWith("accept", sample.Expected.GetProperty("expected").GetProperty("outcome").GetString(), StringComparison.Ordinal);
        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Empty(report.Errors);
        Assert.Equal("nitro", report.Kind);
        Assert.Equal(TcbStatus.UpToDate, report.TcbStatus);
        foreach ((string path, string? value) in ExpectedFields.Flatten(sample.Expected.GetProperty("fields")))
        {
            if (value is null)
            {
                Assert.False(report.Claims.ContainsKey(path), $"{path} should be absent");
            }
            else
            {
                Assert.True(report.Claims.TryGetValue(path, out string? actual), $"{path} is missing");
                Assert.Equal(value, actual);
            }
        }

        foreach ((_, string? value) in ExpectedFields.Flatten(sample.Expected.GetProperty("expected").GetProperty("asserted_by_source")))
        {
            if (value is not null && HexValue().IsMatch(value))
            {
                Assert.Contains(value, report.Claims.Values);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Identity_is_normalised(string name)
    {
        NitroSample sample = NitroSample.Load(name);
        HardwareVerificationReport report = _verifier.Verify(sample.Document, EndorsementSet.Empty, sample.At);
        HardwareIdentity identity = Assert.IsType<HardwareIdentity>(report.Identity);
        JsonElement fields = sample.Expected.GetProperty("fields");

        Assert.Equal($"nitro:{fields.GetProperty("module_id").GetString()}", identity.PlatformId);
        string? reportData = fields.GetProperty("user_data").GetString() ?? fields.GetProperty("nonce").GetString() ?? string.Empty;
        Assert.Equal(reportData, Convert.ToHexStringLower(identity.ReportData.Span));
        Assert.Equal(report.Claims["pcrs.4"], identity.Measurements["pcr4"]);
        Assert.Equal(report.Claims["pcrs.8"], identity.Measurements["pcr8"]);
        Assert.False(identity.Measurements.ContainsKey("pcr9"));
        Assert.Equal("nitro", identity.TokenClaims["x-ms-attestation-type"]);
        Assert.Equal(report.Claims["pcrs.0"], identity.TokenClaims["x-ms-nitro-pcr0"]);
        Assert.Equal(name == NitroSample.Debug, identity.Debug);
        Assert.Equal(name == NitroSample.Debug, identity.TokenClaims["x-ms-nitro-is-debuggable"]);
    }

    [Fact]
    public void Debug_sample_is_genuine_with_zero_pcr0_to_pcr2_and_pcr8_as_the_source_asserts()
    {
        NitroSample sample = NitroSample.Load(NitroSample.Debug);
        HardwareVerificationReport report = _verifier.Verify(sample.Document, EndorsementSet.Empty, sample.At);

        Assert.True(report.Verified);
        string zero = new('0', 96);
        Assert.All(new[] { "pcrs.0", "pcrs.1", "pcrs.2", "pcrs.8" }, pcr => Assert.Equal(zero, report.Claims[pcr]));
        Assert.True(report.Identity!.Debug);
        Assert.Null(report.Identity.Signer);
    }

    /// <summary>The window is the chain's validity intersected with "not before the document was made" (60 s skew).</summary>
    [Theory]
    [MemberData(nameof(Samples))]
    public void Sample_verifies_at_both_ends_of_its_validity_window(string name)
    {
        NitroSample sample = NitroSample.Load(name);
        JsonElement window = sample.Expected.GetProperty("validity_window");
        DateTimeOffset notBefore = Instant(window, "not_before");
        DateTimeOffset notAfter = Instant(window, "not_after");
        DateTimeOffset timestamp = DateTimeOffset.FromUnixTimeMilliseconds(sample.Expected.GetProperty("fields").GetProperty("timestamp_ms").GetInt64());
        DateTimeOffset earliest = new[] { notBefore, timestamp - NitroVerifier.ClockSkew }.Max();

        Assert.True(_verifier.Verify(sample.Document, EndorsementSet.Empty, earliest).Verified);
        Assert.True(_verifier.Verify(sample.Document, EndorsementSet.Empty, notAfter).Verified);
        Assert.False(_verifier.Verify(sample.Document, EndorsementSet.Empty, notAfter.AddSeconds(1)).Verified);
        HardwareVerificationReport early = _verifier.Verify(sample.Document, EndorsementSet.Empty, earliest.AddMilliseconds(-1));
        Assert.False(early.Verified);
        Assert.Contains(early.Errors[0].Code, new[] { VerificationCodes.CertificateExpired, VerificationCodes.Expired });
    }

    private static DateTimeOffset Instant(JsonElement window, string name) =>
        DateTimeOffset.Parse(window.GetProperty(name).GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    [Theory]
    [MemberData(nameof(Samples))]
    public void Tagged_document_verifies_and_the_test_codec_round_trips(string name)
    {
        NitroSample sample = NitroSample.Load(name);
        Assert.Equal(sample.Document, sample.WithPayload(_ => { }));

        byte[] tagged = [0xD2, .. sample.Document];
        HardwareVerificationReport report = _verifier.Verify(tagged, EndorsementSet.Empty, sample.At);
        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal("true", report.Claims["tagged"]);
        Assert.True(_verifier.Recognizes(tagged));
        Assert.True(_verifier.Recognizes(sample.Document));
    }

    [Fact]
    public void Recognizes_no_other_evidence()
    {
        Assert.False(_verifier.Recognizes("eyJhbGciOiJub25lIn0.e30."u8));
        Assert.False(_verifier.Recognizes([]));
        Assert.False(_verifier.Recognizes([0x84]));
    }

    [Fact]
    public void Embedded_root_is_pinned_and_equals_every_samples_first_cabundle_certificate()
    {
        Assert.Equal(NitroRoot.DerSha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(NitroRoot.Der)));
        foreach (string name in NitroSample.All)
        {
            Assert.Equal(NitroRoot.Der, NitroSample.Load(name).CaBundle[0]);
        }
    }

    [Fact]
    public void Indefinite_length_payload_map_parses_but_its_changed_bytes_are_not_what_was_signed()
    {
        NitroSample sample = NitroSample.Load(NitroSample.Base);
        byte[] definite = (byte[])sample.Envelope()[2]!;
        Assert.Equal(0xA9, definite[0]);
        byte[] indefinite = [0xBF, .. definite.AsSpan(1), 0xFF];
        byte[] document = sample.WithEnvelope(e => e[2] = indefinite);

        UnverifiedNitroDocument parsed = NitroAttestationDocument.Parse(document);
        Assert.Equal(sample.Expected.GetProperty("fields").GetProperty("module_id").GetString(), parsed.ModuleId);
        HardwareVerificationReport report = _verifier.Verify(document, EndorsementSet.Empty, sample.At);
        Assert.Equal(VerificationCodes.EvidenceSignatureInvalid, report.Errors[0].Code);
    }

    [Fact]
    public void Document_embedded_in_a_certificate_san_is_the_sample_document_and_verifies()
    {
        NitroSample sample = NitroSample.Load(NitroSample.DocInCert);
        byte[] der = File.ReadAllBytes(TestData.PathOf("nitro", NitroSample.DocInCert, "certificate_with_embedded_doc.der"));
        using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(der);
        var san = certificate.Extensions.OfType<System.Security.Cryptography.X509Certificates.X509SubjectAlternativeNameExtension>().Single();

        // Each dNSName is "<hex chunk>.<...>"; the document is the concatenation of the hex labels before the last
        // (host) part, in order.
        string hex = string.Concat(san.EnumerateDnsNames().SelectMany(n => n.Split('.')).Where(l => HexLabel().IsMatch(l)));
        byte[] embedded = Convert.FromHexString(hex);
        int start = embedded.AsSpan().IndexOf(sample.Document.AsSpan(0, 16));
        Assert.True(start >= 0);
        byte[] document = embedded[start..(start + sample.Document.Length)];

        Assert.Equal(sample.Document, document);
        HardwareVerificationReport report = _verifier.Verify(document, EndorsementSet.Empty, sample.At);
        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal(
            Convert.ToHexStringLower(certificate.PublicKey.ExportSubjectPublicKeyInfo()),
            report.Claims["user_data"]);
    }

    [Fact]
    public void Parser_throws_only_its_format_exception_for_every_truncation()
    {
        byte[] document = NitroSample.Load(NitroSample.Base).Document;
        for (int length = 0; length < document.Length; length++)
        {
            EvidenceFormatException e = Assert.Throws<EvidenceFormatException>(() => NitroAttestationDocument.Parse(document.AsSpan(0, length)));
            Assert.Equal(EvidenceFormat.Nitro, e.Format);
        }
    }

    [GeneratedRegex("^[0-9a-f]{64,}$")]
    private static partial Regex HexValue();

    [GeneratedRegex("^[0-9a-f]+$")]
    private static partial Regex HexLabel();
}
