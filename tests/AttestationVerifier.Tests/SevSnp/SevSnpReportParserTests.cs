using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.SevSnp;

namespace Enclave.AttestationVerifier.Tests.SevSnp;

public sealed class SevSnpReportParserTests
{
    [Fact]
    public void Parses_a_version_3_report_with_cpuid_fields()
    {
        SevSnpReport report = SevSnpReport.Parse(SevSnpVectors.Report(SevSnpVectors.VlekV3));

        Assert.Equal(3u, report.Version);
        Assert.Equal((byte)0x19, report.CpuidFamily);
        Assert.Equal((byte)0x01, report.CpuidModel);
        Assert.Equal(SevSnpProduct.Milan, report.CpuidProduct);
        Assert.Equal(SevSnpReport.SigningKeyVlek, report.SigningKey);
        Assert.False(report.AuthorKeyEnabled);
        Assert.Null(report.LaunchMitVector);
    }

    [Fact]
    public void Version_2_report_has_no_cpuid_values()
    {
        SevSnpReport report = SevSnpReport.Parse(SevSnpVectors.Report(SevSnpVectors.Vcek));

        Assert.Null(report.CpuidFamily);
        Assert.Equal(SevSnpProduct.Unknown, report.CpuidProduct);
        Assert.Equal(SevSnpReport.SigningKeyVcek, report.SigningKey);
    }

    [Fact]
    public void Guest_policy_bits_decode()
    {
        SevSnpGuestPolicy policy = new(0x1FB0000UL | (1UL << 8) | 51);

        Assert.Equal(51, policy.AbiMinor);
        Assert.Equal(1, policy.AbiMajor);
        Assert.True(policy.SmtAllowed && policy.ReservedOne && policy.DebugAllowed && policy.SingleSocket);
        Assert.False(policy.MigrateMa);
        Assert.True(policy.CxlAllowed && policy.MemAes256Xts && policy.RaplDisabled && policy.CiphertextHiding);
    }

    [Theory]
    [InlineData(0, EvidenceFormatError.Truncated)]
    [InlineData(2, EvidenceFormatError.Truncated)]
    [InlineData(100, EvidenceFormatError.Truncated)]
    [InlineData(1183, EvidenceFormatError.Truncated)]
    [InlineData(1185, EvidenceFormatError.TrailingBytes)]
    [InlineData(4000, EvidenceFormatError.TrailingBytes)]
    public void Wrong_lengths_throw_only_evidence_format_exceptions(int length, EvidenceFormatError code)
    {
        byte[] bytes = new byte[length];
        SevSnpVectors.Report(SevSnpVectors.Vcek).AsSpan(0, Math.Min(length, SevSnpReport.Length)).CopyTo(bytes);

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SevSnpReport.Parse(bytes));

        Assert.Equal(code, ex.Code);
        Assert.Equal(EvidenceFormat.SevSnp, ex.Format);
    }

    [Fact]
    public void Random_inputs_parse_or_throw_evidence_format_exceptions_only()
    {
        Random random = new(56860);
        for (int i = 0; i < 500; i++)
        {
            byte[] bytes = new byte[random.Next(0, 1300)];
            random.NextBytes(bytes);
            if (i % 2 == 0 && bytes.Length >= 4)
            {
                bytes[0] = (byte)random.Next(2, 6);
                bytes[1] = bytes[2] = bytes[3] = 0;
            }

            try
            {
                SevSnpReport.Parse(bytes);
            }
            catch (EvidenceFormatException)
            {
            }
        }
    }

    [Fact]
    public void Tcb_version_decodes_per_product()
    {
        byte[] bytes = [1, 2, 3, 4, 0, 0, 5, 6];

        SevSnpTcbVersion milan = SevSnpTcbVersion.Decode(bytes, SevSnpProduct.Milan);
        SevSnpTcbVersion turin = SevSnpTcbVersion.Decode(bytes, SevSnpProduct.Turin);

        Assert.Equal((1, 2, 5, 6, (byte?)null), (milan.BootLoader, milan.Tee, milan.Snp, milan.Microcode, milan.Fmc));
        Assert.Equal((2, 3, 4, 6, (byte?)1), (turin.BootLoader, turin.Tee, turin.Snp, turin.Microcode, turin.Fmc));
        Assert.Equal("0102030400000506", milan.Hex);
    }

    [Theory]
    [InlineData(0x19, 0x01, SevSnpProduct.Milan)]
    [InlineData(0x19, 0x11, SevSnpProduct.Genoa)]
    [InlineData(0x19, 0xA0, SevSnpProduct.Genoa)]
    [InlineData(0x1A, 0x02, SevSnpProduct.Turin)]
    [InlineData(0x17, 0x31, SevSnpProduct.Unknown)]
    public void Cpuid_names_the_product(byte family, byte model, SevSnpProduct product) =>
        Assert.Equal(product, SevSnpProducts.FromCpuid(family, model));
}
