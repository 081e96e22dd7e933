using System.Buffers.Binary;
using Enclave.EnclaveApp.Attestation;

namespace Enclave.EnclaveApp.Tests.Attestation;

public sealed class SnpCertificateTableTests
{
    [Fact]
    public void Guids_are_read_in_string_byte_order()
    {
        byte[] table = CertificateTableBuilder.Build((SnpCertificateTable.VlekGuid, [1, 2, 3]), (SnpCertificateTable.ArkGuid, [4]));

        Assert.Equal([0xa8, 0x07, 0x4b, 0xc2], table[..4]);
        IReadOnlyList<SnpCertificateEntry> entries = SnpCertificateTable.Parse(table);
        Assert.Equal(["vlek", "ark"], entries.Select(e => e.Kind));
        Assert.Equal([1, 2, 3], entries[0].Der);
    }

    [Fact]
    public void Unknown_guid_is_kept_as_unknown()
    {
        Guid other = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");
        IReadOnlyList<SnpCertificateEntry> entries = SnpCertificateTable.Parse(CertificateTableBuilder.Build((other, [9])));

        Assert.Equal(other, Assert.Single(entries).Id);
        Assert.Equal("unknown", entries[0].Kind);
    }

    [Fact]
    public void Empty_table_is_just_the_terminator() =>
        Assert.Empty(SnpCertificateTable.Parse(new byte[SnpCertificateTable.EntryLength]));

    [Fact]
    public void Unterminated_table_is_rejected() =>
        Assert.Throws<EvidenceUnavailableException>(() => SnpCertificateTable.Parse(CertificateTableBuilder.Build((SnpCertificateTable.VcekGuid, [1]))[..24]));

    [Theory]
    [InlineData(0u, 1u)]
    [InlineData(48u, 100u)]
    [InlineData(uint.MaxValue, 2u)]
    [InlineData(48u, 0u)]
    public void Entry_pointing_outside_the_blob_or_into_the_table_is_rejected(uint offset, uint length)
    {
        byte[] table = CertificateTableBuilder.Build((SnpCertificateTable.VcekGuid, [1, 2]));
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(20), length);

        Assert.Throws<EvidenceUnavailableException>(() => SnpCertificateTable.Parse(table));
    }

    [Fact]
    public void Too_many_entries_are_rejected()
    {
        (Guid, byte[])[] many = [.. Enumerable.Range(0, SnpCertificateTable.MaxEntries + 1).Select(_ => (SnpCertificateTable.AskGuid, new byte[] { 1 }))];

        Assert.Throws<EvidenceUnavailableException>(() => SnpCertificateTable.Parse(CertificateTableBuilder.Build(many)));
    }
}
