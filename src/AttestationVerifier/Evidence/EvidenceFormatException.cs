namespace Enclave.AttestationVerifier.Evidence;

/// <summary>
/// The only exception an evidence parser throws: the bytes are not well-formed evidence. Names the field and
/// the byte offset at which parsing stopped.
/// </summary>
public sealed class EvidenceFormatException : Exception
{
    public EvidenceFormatException(EvidenceFormat format, EvidenceFormatError code, string field, int offset, string detail)
        : base($"{format} evidence: {field} at offset {offset}: {detail}")
    {
        Format = format;
        Code = code;
        Field = field;
        Offset = offset;
    }

    public EvidenceFormat Format { get; }

    public EvidenceFormatError Code { get; }

    /// <summary>The name of the field that is wrong, as in docs/formats.md.</summary>
    public string Field { get; }

    /// <summary>The byte offset of that field.</summary>
    public int Offset { get; }
}
