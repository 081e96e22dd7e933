using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.Dcap;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Dcap;

namespace Enclave.AttestationVerifier.Tests.Dcap;

/// <summary>The parser throws only its format exception, and verification never throws, for any bytes.</summary>
public sealed class DcapParserRobustnessTests
{
    public static TheoryData<string, string> Samples => new()
    {
        { "sgx", "dcap-qvl-sgx-v3-processor-ca-2025" },
        { "sgx", "intel-qvl-sampledata-synthetic-root" },
        { "tdx", "dcap-qvl-tdx-v4-uptodate-2025" },
        { "tdx", "dcap-qvl-tdx-v5-no-matching-tcb-2026" },
    };

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_prefix_parses_or_throws_the_format_exception(string kind, string name)
    {
        byte[] quote = DcapVector.Load(kind, name).Quote;
        int parsed = 0;
        for (int length = 0; length <= quote.Length; length++)
        {
            try
            {
                DcapQuote.Parse(quote.AsSpan(0, length));
                parsed++;
            }
            catch (EvidenceFormatException ex)
            {
                Assert.False(string.IsNullOrEmpty(ex.Field));
            }
        }

        // Only the full quote (and, for padded buffers, prefixes that keep the whole signature data) parses.
        Assert.InRange(parsed, 1, 1 + QuoteLayoutTrailing(quote));
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Random_byte_changes_never_escape_as_other_exceptions(string kind, string name)
    {
        DcapVector vector = DcapVector.Load(kind, name);
        IHardwareVerifier verifier = kind == "sgx" ? new SgxVerifier() : new TdxVerifier();
        var endorsements = vector.Endorsements();
        var random = new Random(20261123);
        for (int i = 0; i < 60; i++)
        {
            byte[] q = (byte[])vector.Quote.Clone();
            int changes = 1 + random.Next(4);
            for (int c = 0; c < changes; c++)
            {
                q[random.Next(Math.Min(q.Length, 1300))] = (byte)random.Next(256);
            }

            try
            {
                DcapQuote.Parse(q);
            }
            catch (EvidenceFormatException)
            {
            }

            HardwareVerificationReport report = verifier.Verify(q, endorsements, vector.At);
            Assert.Equal(report.Verified, report.Errors.Count == 0);
        }
    }

    [Fact]
    public void Oversized_input_is_rejected_before_parsing()
    {
        var ex = Assert.Throws<EvidenceFormatException>(() => DcapQuote.Parse(new byte[DcapQuote.MaxQuoteBytes + 1]));
        Assert.Equal(EvidenceFormatError.TooLarge, ex.Code);
    }

    private static int QuoteLayoutTrailing(byte[] quote) => quote.Length - QuoteLayout.Of(quote).End;
}

public sealed class PckExtensionsTests
{
    [Fact]
    public void Extensions_of_the_real_pck_match_the_vector()
    {
        DcapVector vector = DcapVector.Load("tdx", "go-tdx-guest-v4-spr-e4-no-matching-tcb-2023");
        var certificates = Enclave.AttestationVerifier.Endorsements.Dcap.EndorsementCollateralSource.PemCertificates(
            System.Text.Encoding.ASCII.GetString(vector.Quote.AsSpan(QuoteLayout.Of(vector.Quote).CertData)));

        PckExtensions pck = PckExtensions.FromCertificate(certificates[0])!;

        Assert.Equal("089ddfdb9c0359c82a3bc7719239574e", Convert.ToHexStringLower(pck.Ppid));
        Assert.Equal("50806f000000", Convert.ToHexStringLower(pck.Fmspc));
        Assert.Equal("0000", Convert.ToHexStringLower(pck.PceId));
        Assert.Equal(11, pck.PceSvn);
        Assert.Equal("03030202020100020000000000000000", Convert.ToHexStringLower(pck.CpuSvn));
        Assert.Null(PckExtensions.FromCertificate(certificates[1]));
    }

    [Theory]
    [InlineData("")]
    [InlineData("30")]
    [InlineData("3000")]
    [InlineData("300d300b06092a864886f84d010d0101")]
    [InlineData("3013301106092a864886f84d010d010104040001")]
    public void Malformed_extension_throws_the_format_exception(string hex)
    {
        Assert.Throws<EvidenceFormatException>(() => PckExtensions.Parse(Convert.FromHexString(hex)));
    }
}
