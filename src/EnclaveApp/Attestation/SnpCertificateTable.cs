// SEV-SNP certificate table, as the hypervisor returns it with an extended guest request and Linux exposes it in
// the configfs-tsm auxblob (AMD "SEV-ES Guest-Hypervisor Communication Block Standardization", pub. 56421,
// "SNP Extended Guest Request"): an array of 24-byte entries
//   GUID (16, in string byte order)   offset (4, little-endian, from the table start)   length (4, little-endian)
// terminated by an all-zero entry; the certificates (DER) follow the table.
using System.Buffers.Binary;

namespace Enclave.EnclaveApp.Attestation;

/// <summary>One certificate from the SNP certificate table.</summary>
/// <param name="Kind">vcek, vlek, ask, ark or unknown.</param>
public sealed record SnpCertificateEntry(Guid Id, string Kind, byte[] Der);

/// <summary>Parses the SNP certificate table (bounded: at most <see cref="MaxEntries"/> entries).</summary>
public static class SnpCertificateTable
{
    public const int EntryLength = 24;
    public const int MaxEntries = 64;

    public static readonly Guid VcekGuid = new("63da758d-e664-4564-adc5-f4b93be8accd");
    public static readonly Guid VlekGuid = new("a8074bc2-a25a-483e-aae6-39c045a0b8a1");
    public static readonly Guid AskGuid = new("4ab7b379-bbac-4fe4-a02f-05aef327c782");
    public static readonly Guid ArkGuid = new("c0b406a4-a803-4952-9743-3fb6014cd0ae");

    /// <exception cref="EvidenceUnavailableException">The table is truncated, unterminated or points outside itself.</exception>
    public static IReadOnlyList<SnpCertificateEntry> Parse(ReadOnlySpan<byte> table)
    {
        List<(Guid Id, uint Offset, uint Length)> entries = [];
        int position = 0;
        while (true)
        {
            if (table.Length - position < EntryLength)
            {
                throw new EvidenceUnavailableException($"SNP certificate table: entry {entries.Count} at offset {position} is truncated (no terminating zero entry)");
            }

            ReadOnlySpan<byte> entry = table.Slice(position, EntryLength);
            position += EntryLength;
            if (entry.IndexOfAnyExcept((byte)0) < 0)
            {
                break;
            }

            if (entries.Count == MaxEntries)
            {
                throw new EvidenceUnavailableException($"SNP certificate table: more than {MaxEntries} entries");
            }

            entries.Add((new Guid(entry[..16], bigEndian: true), BinaryPrimitives.ReadUInt32LittleEndian(entry[16..]), BinaryPrimitives.ReadUInt32LittleEndian(entry[20..])));
        }

        List<SnpCertificateEntry> certificates = [];
        foreach ((Guid id, uint offset, uint length) in entries)
        {
            if (offset < position || (ulong)offset + length > (ulong)table.Length || length == 0)
            {
                throw new EvidenceUnavailableException(
                    $"SNP certificate table: certificate {id} at offset {offset}, length {length} lies outside the {table.Length}-byte blob after the table");
            }

            certificates.Add(new SnpCertificateEntry(id, KindOf(id), table.Slice((int)offset, (int)length).ToArray()));
        }

        return certificates;
    }

    private static string KindOf(Guid id) =>
        id == VcekGuid ? "vcek" : id == VlekGuid ? "vlek" : id == AskGuid ? "ask" : id == ArkGuid ? "ark" : "unknown";
}
