using System.Buffers.Binary;
using Enclave.AttestationVerifier.Evidence;

namespace Enclave.AttestationVerifier.Tests;

public sealed class SimulatedEvidenceParserTests : IDisposable
{
    private readonly VerifierTestContext _context = new();
    private readonly byte[] _runtimeData = RuntimeDataBuilder.Create();

    public void Dispose() => _context.Dispose();

    [Fact]
    public void Parse_WellFormedEvidence_ReadsEveryField()
    {
        SimulatedEvidenceBuilder builder = _context.Evidence(_runtimeData);
        builder.Flags = 1;
        byte[] evidence = builder.Build();

        UnverifiedSimulatedEvidence parsed = SimulatedEvidenceParser.Parse(evidence);

        Assert.Equal(1, parsed.Version);
        Assert.True(parsed.IsDebug);
        Assert.Equal(7, parsed.ProductId);
        Assert.Equal(3, parsed.Svn);
        Assert.Equal(builder.Measurement, parsed.Measurement.ToArray());
        Assert.Equal(builder.Signer, parsed.Signer.ToArray());
        Assert.Equal(builder.ReportData, parsed.ReportData.ToArray());
        Assert.Equal(_context.PlatformCertificate, parsed.PlatformCertificate.ToArray());
        Assert.Equal(evidence[^64..], parsed.Signature.ToArray());
        Assert.Equal(evidence[..^64], parsed.SignedRegion.ToArray());
        Assert.Equal(212 + _context.PlatformCertificate.Length, evidence.Length);
    }

    [Fact]
    public void Parse_TruncatedAtEveryOffset_ThrowsTruncated()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        for (int length = 0; length < evidence.Length; length++)
        {
            EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence.AsSpan(0, length)));
            Assert.Equal(EvidenceFormatError.Truncated, ex.Code);
            Assert.Equal(EvidenceFormat.Simulated, ex.Format);
            Assert.Contains(ex.Field, ex.Message, StringComparison.Ordinal);
            Assert.Contains($"offset {ex.Offset}", ex.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(0, "magic", 0)]
    [InlineData(9, "version", 8)]
    [InlineData(10, "flags", 10)]
    [InlineData(47, "measurement", 16)]
    [InlineData(143, "report data", 80)]
    [InlineData(147, "platform certificate length", 144)]
    [InlineData(148, "platform certificate", 148)]
    public void Parse_Truncated_NamesTheFieldThatIsCut(int length, string field, int offset)
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence.AsSpan(0, length)));

        Assert.Equal(field, ex.Field);
        Assert.Equal(offset, ex.Offset);
    }

    [Fact]
    public void Parse_TruncatedSignature_NamesTheSignature()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence.AsSpan(0, evidence.Length - 1)));

        Assert.Equal("signature", ex.Field);
        Assert.Equal(148 + _context.PlatformCertificate.Length, ex.Offset);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(8193u)]
    [InlineData(0x7fffffffu)]
    [InlineData(uint.MaxValue)]
    public void Parse_CertificateLengthOutOfRange_Throws(uint certificateLength)
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        BinaryPrimitives.WriteUInt32LittleEndian(evidence.AsSpan(144), certificateLength);

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence));

        Assert.Equal(EvidenceFormatError.LengthOutOfRange, ex.Code);
        Assert.Equal(144, ex.Offset);
    }

    [Fact]
    public void Parse_CertificateLengthBeyondTheBytes_ThrowsTruncated()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        BinaryPrimitives.WriteUInt32LittleEndian(evidence.AsSpan(144), 8192);

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence));

        Assert.Equal(EvidenceFormatError.Truncated, ex.Code);
        Assert.Equal("platform certificate", ex.Field);
    }

    [Fact]
    public void Parse_CertificateLengthShorterThanTheCertificate_ThrowsTrailingBytes()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        BinaryPrimitives.WriteUInt32LittleEndian(evidence.AsSpan(144), (uint)_context.PlatformCertificate.Length - 1);

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence));

        Assert.Equal(EvidenceFormatError.TrailingBytes, ex.Code);
    }

    [Fact]
    public void Parse_TrailingByte_Throws()
    {
        byte[] evidence = [.. _context.Evidence(_runtimeData).Build(), 0];

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence));

        Assert.Equal(EvidenceFormatError.TrailingBytes, ex.Code);
        Assert.Equal(evidence.Length - 1, ex.Offset);
    }

    [Fact]
    public void Parse_LongerThanAnyEvidence_ThrowsTooLarge()
    {
        byte[] evidence = new byte[SimulatedEvidenceParser.MaxEvidenceLength + 1];

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence));

        Assert.Equal(EvidenceFormatError.TooLarge, ex.Code);
    }

    [Fact]
    public void Parse_WrongMagic_Throws()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        evidence[7] = (byte)'2';

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(evidence));

        Assert.Equal(EvidenceFormatError.BadMagic, ex.Code);
        Assert.Equal("magic", ex.Field);
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)2)]
    [InlineData((ushort)0x0100)]
    public void Parse_UnsupportedVersion_Throws(ushort version)
    {
        SimulatedEvidenceBuilder builder = _context.Evidence(_runtimeData);
        builder.Version = version;

        EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(builder.Build()));

        Assert.Equal(EvidenceFormatError.UnsupportedVersion, ex.Code);
        Assert.Equal(8, ex.Offset);
    }

    [Fact]
    public void Parse_AnyReservedFlagBit_Throws()
    {
        for (int bit = 1; bit < 16; bit++)
        {
            SimulatedEvidenceBuilder builder = _context.Evidence(_runtimeData);
            builder.Flags = (ushort)(1 << bit);

            EvidenceFormatException ex = Assert.Throws<EvidenceFormatException>(() => SimulatedEvidenceParser.Parse(builder.Build()));

            Assert.Equal(EvidenceFormatError.ReservedFlagsSet, ex.Code);
            Assert.Equal("flags", ex.Field);
        }
    }

    [Fact]
    public void Parse_ParsedRecord_DoesNotAliasTheInput()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        UnverifiedSimulatedEvidence parsed = SimulatedEvidenceParser.Parse(evidence);
        byte[] measurement = parsed.Measurement.ToArray();

        evidence[16] ^= 0xff;

        Assert.Equal(measurement, parsed.Measurement.ToArray());
    }

    [Fact]
    public void EvidenceFormat_ComparesByWireName()
    {
        Assert.Equal(EvidenceFormat.Simulated, new EvidenceFormat("simulated"));
        Assert.NotEqual(EvidenceFormat.Simulated, new EvidenceFormat("SIMULATED"));
        Assert.Equal("sev-snp", EvidenceFormat.SevSnp.ToString());
        Assert.Throws<ArgumentException>(() => new EvidenceFormat(" "));
    }
}
