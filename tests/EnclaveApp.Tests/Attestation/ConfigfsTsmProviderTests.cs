using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.EnclaveApp.Attestation;

namespace Enclave.EnclaveApp.Tests.Attestation;

public sealed class ConfigfsTsmProviderTests
{
    private static readonly byte[] s_reportData = [.. Enumerable.Range(0, 64).Select(i => (byte)(0xC0 ^ i))];

    [Fact]
    public void Sev_guest_report_carries_the_inblob_and_the_vcek_from_the_certificate_table()
    {
        byte[] vcek = Certificate("CN=SEV-VCEK");
        byte[] ask = Certificate("CN=SEV-Milan");
        using FakeConfigfsKernel kernel = new("sev_guest", SnpReport, CertificateTableBuilder.Build(
            (SnpCertificateTable.VcekGuid, vcek), (SnpCertificateTable.AskGuid, ask)));
        ConfigfsTsmProvider provider = new(kernel);

        TsmReport report = provider.GetReport(s_reportData);

        Assert.True(provider.IsAvailable);
        Assert.Equal("sev-snp", provider.Format);
        Assert.Equal("sev_guest", report.Provider);
        Assert.Equal(1184, report.OutBlob.Length);
        Assert.Equal(s_reportData, report.OutBlob[0x50..0x90]);
        Assert.Equal(s_reportData, Assert.Single(kernel.InblobsWritten));
        Assert.Equal(1, report.Generation);
        Assert.Equal(["vcek", "ask"], report.Certificates.Select(c => c.Kind));
        Assert.Equal(vcek, report.Certificates[0].Der);
        Assert.Equal(ask, report.Certificates[1].Der);
    }

    [Fact]
    public void Every_entry_created_is_removed_even_after_a_failure()
    {
        using FakeConfigfsKernel kernel = new("sev_guest", SnpReport) { RaceOnOutblobRead = 1 };
        ConfigfsTsmProvider provider = new(kernel);

        Assert.Throws<EvidenceUnavailableException>(() => provider.GetEvidence(s_reportData));

        Assert.NotEmpty(kernel.Created);
        Assert.Equal(kernel.Created, kernel.Removed);
        Assert.Empty(Directory.GetDirectories(kernel.Root));
        Assert.All(kernel.Created, e => Assert.StartsWith("enclave-", e, StringComparison.Ordinal));
        Assert.Equal(kernel.Created.Count, kernel.Created.Distinct().Count());
    }

    [Fact]
    public void Tdx_guest_report_is_the_quote_without_auxblob()
    {
        using FakeConfigfsKernel kernel = new("tdx_guest", inblob => [0x04, 0x00, 0x02, 0x00, .. inblob]);
        ConfigfsTsmProvider provider = new(kernel);

        byte[] quote = provider.GetEvidence(s_reportData);

        Assert.Equal("tdx", provider.Format);
        Assert.Equal(s_reportData, quote[4..]);
        Assert.DoesNotContain("auxblob", kernel.AttributesRead);
    }

    [Fact]
    public void Privilege_level_is_written_and_counted_in_the_generation()
    {
        using FakeConfigfsKernel kernel = new("sev_guest", SnpReport);
        ConfigfsTsmProvider provider = new(kernel, privilegeLevel: 2);

        TsmReport report = provider.GetReport(s_reportData);

        Assert.Equal(["2"], kernel.PrivlevelsWritten);
        Assert.Equal(2, report.Generation);
    }

    [Fact]
    public void A_concurrent_write_while_configuring_is_detected()
    {
        using FakeConfigfsKernel kernel = new("sev_guest", SnpReport) { RaceOnInblobWrite = 1 };
        ConfigfsTsmProvider provider = new(kernel);

        EvidenceUnavailableException ex = Assert.Throws<EvidenceUnavailableException>(() => provider.GetEvidence(s_reportData));

        Assert.Contains("raced", ex.Message, StringComparison.Ordinal);
        Assert.Contains("from 0 to 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_concurrent_write_while_the_report_is_produced_is_detected()
    {
        using FakeConfigfsKernel kernel = new("sev_guest", SnpReport) { RaceOnOutblobRead = 1 };
        ConfigfsTsmProvider provider = new(kernel);

        EvidenceUnavailableException ex = Assert.Throws<EvidenceUnavailableException>(() => provider.GetEvidence(s_reportData));

        Assert.Contains("changed from 1 to 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_provider_attribute_means_unavailable()
    {
        using FakeConfigfsKernel kernel = new(provider: null, SnpReport);
        ConfigfsTsmProvider provider = new(kernel);

        Assert.False(provider.IsAvailable);
        Assert.Null(provider.Provider);
        Assert.Equal(kernel.Created, kernel.Removed);
    }

    [Fact]
    public void Unknown_provider_is_unavailable_and_refuses_to_report()
    {
        using FakeConfigfsKernel kernel = new("arm_cca_guest", SnpReport);
        ConfigfsTsmProvider provider = new(kernel);

        Assert.False(provider.IsAvailable);
        Assert.Equal("arm_cca_guest", provider.Provider);
        EvidenceUnavailableException ex = Assert.Throws<EvidenceUnavailableException>(() => provider.GetEvidence(s_reportData));
        Assert.Contains("arm_cca_guest", ex.Message, StringComparison.Ordinal);
        Assert.Empty(kernel.InblobsWritten);
    }

    [Fact]
    public void Absent_configfs_root_is_unavailable_and_reports_a_clear_error()
    {
        ConfigfsTsmProvider provider = new(Path.Combine(Path.GetTempPath(), "no-such-tsm-" + Guid.NewGuid().ToString("N")));

        Assert.False(provider.IsAvailable);
        EvidenceUnavailableException ex = Assert.Throws<EvidenceUnavailableException>(() => provider.GetEvidence(s_reportData));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plain_folder_without_kernel_attributes_is_unavailable_and_left_clean()
    {
        string root = Path.Combine(Path.GetTempPath(), "enclave-tsm-plain-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            ConfigfsTsmProvider provider = new(root);

            Assert.False(provider.IsAvailable);
            Assert.Empty(Directory.GetFileSystemEntries(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(65)]
    public void Report_data_must_be_64_bytes(int length)
    {
        using FakeConfigfsKernel kernel = new("sev_guest", SnpReport);
        ConfigfsTsmProvider provider = new(kernel);

        Assert.Throws<ArgumentException>(() => provider.GetEvidence(new byte[length]));
        Assert.Empty(kernel.Created);
    }

    [Fact]
    public void Malformed_certificate_table_is_an_error()
    {
        using FakeConfigfsKernel kernel = new("sev_guest", SnpReport, auxBlob: new byte[10]);
        ConfigfsTsmProvider provider = new(kernel);

        Assert.Throws<EvidenceUnavailableException>(() => provider.GetReport(s_reportData));
    }

    [Fact]
    public void Privilege_level_outside_0_to_3_is_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConfigfsTsmProvider("/nonexistent", privilegeLevel: 4));

    private static byte[] SnpReport(byte[] inblob)
    {
        byte[] report = new byte[1184];
        BinaryPrimitives.WriteUInt32LittleEndian(report, 3);
        inblob.CopyTo(report, 0x50);
        return report;
    }

    private static byte[] Certificate(string subject)
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using X509Certificate2 certificate = new CertificateRequest(subject, key, HashAlgorithmName.SHA384)
            .CreateSelfSigned(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        return certificate.RawData;
    }
}

/// <summary>Builds an SNP certificate table as a hypervisor would.</summary>
internal static class CertificateTableBuilder
{
    public static byte[] Build(params (Guid Id, byte[] Der)[] certificates)
    {
        int tableLength = (certificates.Length + 1) * SnpCertificateTable.EntryLength;
        byte[] table = new byte[tableLength + certificates.Sum(c => c.Der.Length)];
        int offset = tableLength;
        for (int i = 0; i < certificates.Length; i++)
        {
            Span<byte> entry = table.AsSpan(i * SnpCertificateTable.EntryLength, SnpCertificateTable.EntryLength);
            Assert.True(certificates[i].Id.TryWriteBytes(entry[..16], bigEndian: true, out _));
            BinaryPrimitives.WriteUInt32LittleEndian(entry[16..], (uint)offset);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[20..], (uint)certificates[i].Der.Length);
            certificates[i].Der.CopyTo(table, offset);
            offset += certificates[i].Der.Length;
        }

        return table;
    }
}
