// AWS Nitro Enclaves attestation document ("Nitro Enclaves attestation process",
// aws-nitro-enclaves-nsm-api docs/attestation_process.md), a COSE_Sign1 message (RFC 9052 section 4.2) in CBOR
// (RFC 8949), optionally wrapped in tag 18:
//   COSE_Sign1 = [ protected: bstr .cbor { 1: -35 (ES384) }, unprotected: {}, payload: bstr, signature: bstr ]
// The payload is a map with text keys:
//   module_id  tstr (1..256)          digest   tstr ("SHA384")        timestamp  uint (ms since the Unix epoch)
//   pcrs       { uint (0..31) => bstr (32, 48 or 64 bytes) }, 1..32 entries
//   certificate bstr (DER, 1..1024)   cabundle [ + bstr (DER, 1..1024) ], root first, at most 16
//   public_key / user_data / nonce   optional bstr (0..1024) or null
// The COSE envelope must use definite lengths (its byte strings are signed as they are); the payload map, the
// pcrs map and the cabundle array may use indefinite lengths, as recent documents do. Duplicate or unknown
// payload keys are refused. Nothing may follow the COSE_Sign1 array. Documents are at most 64 KiB.
using System.Formats.Cbor;

namespace Enclave.AttestationVerifier.Evidence.Nitro;

/// <summary>A parsed Nitro attestation document whose signature and chain are not yet checked.</summary>
/// <param name="Tagged">Whether the COSE_Sign1 carried tag 18.</param>
/// <param name="ProtectedHeader">The protected header bucket's bytes exactly as signed.</param>
/// <param name="Algorithm">The protected header's alg (label 1), or null when absent.</param>
/// <param name="ProtectedLabels">Every label of the protected header map, as text ("1", "4", "crit"...).</param>
/// <param name="Payload">The payload bytes exactly as signed.</param>
/// <param name="Signature">The signature bytes (ES384: r‖s, 96 bytes).</param>
/// <param name="TimestampMs">Milliseconds since the Unix epoch, from the NSM.</param>
/// <param name="Pcrs">PCR index to value, in index order.</param>
/// <param name="Certificate">The leaf certificate (DER) whose key signed the document.</param>
/// <param name="CaBundle">The issuing chain (DER), root first.</param>
public sealed record UnverifiedNitroDocument(
    bool Tagged,
    byte[] ProtectedHeader,
    long? Algorithm,
    IReadOnlyList<string> ProtectedLabels,
    byte[] Payload,
    byte[] Signature,
    string ModuleId,
    string Digest,
    ulong TimestampMs,
    IReadOnlyList<KeyValuePair<int, byte[]>> Pcrs,
    byte[] Certificate,
    IReadOnlyList<byte[]> CaBundle,
    byte[]? PublicKey,
    byte[]? UserData,
    byte[]? Nonce);

/// <summary>Parses Nitro attestation documents (COSE_Sign1) into <see cref="UnverifiedNitroDocument"/>.</summary>
public static class NitroAttestationDocument
{
    public const int MaxDocumentLength = 64 * 1024;
    public const ulong CoseSign1Tag = 18;
    public const int MaxProtectedHeaderLength = 256;
    public const int MaxProtectedLabels = 8;
    public const int MaxSignatureLength = 1024;
    public const int MaxModuleIdLength = 256;
    public const int MaxDigestLength = 16;
    public const int MaxPcrCount = 32;
    public const int MaxPcrIndex = 31;
    public const int MaxCertificateLength = 1024;
    public const int MaxCaBundleCount = 16;
    public const int MaxOptionalFieldLength = 1024;
    private const int MaxPayloadKeys = 16;
    private const int MaxKeyLength = 32;
    private const long AlgorithmLabel = 1;

    /// <exception cref="EvidenceFormatException">The bytes are not a well-formed Nitro attestation document.</exception>
    public static UnverifiedNitroDocument Parse(ReadOnlySpan<byte> document)
    {
        if (document.Length > MaxDocumentLength)
        {
            throw new EvidenceFormatException(
                EvidenceFormat.Nitro, EvidenceFormatError.TooLarge, "document", 0, $"{document.Length} bytes; the limit is {MaxDocumentLength}");
        }

        ReadOnlyMemory<byte> bytes = document.ToArray();
        var reader = new NitroCbor(bytes);
        ulong? tag = reader.TryReadTag("COSE_Sign1 tag");
        if (tag is not null && tag != CoseSign1Tag)
        {
            throw new EvidenceFormatException(
                EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, "COSE_Sign1 tag", 0, $"tag {tag} is not COSE_Sign1 (18)");
        }

        int? count = reader.ReadArrayStart("COSE_Sign1", 4, allowIndefinite: false);
        if (count != 4)
        {
            throw new EvidenceFormatException(
                EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, "COSE_Sign1", reader.Offset, $"the array has {count} elements, not 4");
        }

        int protectedOffset = reader.Offset;
        byte[] protectedHeader = reader.ReadByteString("protected", MaxProtectedHeaderLength).ToArray();
        (long? algorithm, List<string> labels) = ParseProtectedHeader(protectedHeader, protectedOffset);

        int? unprotectedCount = reader.ReadMapStart("unprotected", MaxProtectedLabels, allowIndefinite: false);
        for (int i = 0; i < unprotectedCount; i++)
        {
            reader.SkipItem("unprotected");
            reader.SkipItem("unprotected");
        }

        reader.ReadMapEnd("unprotected");
        ReadOnlyMemory<byte> payload = reader.ReadByteString("payload", MaxDocumentLength);
        int payloadStart = reader.Offset - payload.Length;
        byte[] signature = reader.ReadByteString("signature", MaxSignatureLength).ToArray();
        reader.ReadArrayEnd("COSE_Sign1");
        if (!reader.AtEnd)
        {
            throw new EvidenceFormatException(
                EvidenceFormat.Nitro, EvidenceFormatError.TrailingBytes, "document", reader.Offset, $"{reader.Remaining} bytes follow the COSE_Sign1 array");
        }

        return ParsePayload(payload, payloadStart, tag is not null, protectedHeader, algorithm, labels, signature);
    }

    private static (long? Algorithm, List<string> Labels) ParseProtectedHeader(byte[] header, int baseOffset)
    {
        List<string> labels = [];
        long? algorithm = null;
        if (header.Length == 0)
        {
            return (null, labels);
        }

        var reader = new NitroCbor(header, baseOffset);
        int count = reader.ReadMapStart("protected", MaxProtectedLabels, allowIndefinite: false)!.Value;
        for (int i = 0; i < count; i++)
        {
            int labelOffset = reader.Offset;
            string label;
            long? numericLabel = null;
            if (reader.Peek("protected label") == CborReaderState.TextString)
            {
                label = reader.ReadTextString("protected label", MaxKeyLength);
            }
            else
            {
                numericLabel = reader.ReadInt64("protected label");
                label = numericLabel.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            if (labels.Contains(label))
            {
                throw new EvidenceFormatException(
                    EvidenceFormat.Nitro, EvidenceFormatError.DuplicateField, "protected", labelOffset, $"label {label} appears twice");
            }

            labels.Add(label);
            if (numericLabel == AlgorithmLabel)
            {
                algorithm = reader.Peek("protected alg") is CborReaderState.UnsignedInteger or CborReaderState.NegativeInteger
                    ? reader.ReadInt64("protected alg")
                    : throw new EvidenceFormatException(
                        EvidenceFormat.Nitro, EvidenceFormatError.UnexpectedType, "protected alg", reader.Offset, "alg is not an integer");
            }
            else
            {
                reader.SkipItem("protected");
            }
        }

        reader.ReadMapEnd("protected");
        if (!reader.AtEnd)
        {
            throw new EvidenceFormatException(
                EvidenceFormat.Nitro, EvidenceFormatError.TrailingBytes, "protected", reader.Offset, "bytes follow the protected header map");
        }

        return (algorithm, labels);
    }

    private static UnverifiedNitroDocument ParsePayload(
        ReadOnlyMemory<byte> payload,
        int baseOffset,
        bool tagged,
        byte[] protectedHeader,
        long? algorithm,
        List<string> labels,
        byte[] signature)
    {
        var reader = new NitroCbor(payload, baseOffset);
        int? count = reader.ReadMapStart("payload", MaxPayloadKeys, allowIndefinite: true);
        string? moduleId = null;
        string? digest = null;
        ulong? timestamp = null;
        List<KeyValuePair<int, byte[]>>? pcrs = null;
        byte[]? certificate = null;
        List<byte[]>? caBundle = null;
        byte[]? publicKey = null;
        byte[]? userData = null;
        byte[]? nonce = null;
        HashSet<string> seen = new(StringComparer.Ordinal);
        for (int i = 0; count is null ? !reader.PeekIsEnd() : i < count; i++)
        {
            if (i >= MaxPayloadKeys)
            {
                throw new EvidenceFormatException(
                    EvidenceFormat.Nitro, EvidenceFormatError.LengthOutOfRange, "payload", reader.Offset, $"more than {MaxPayloadKeys} keys");
            }

            int keyOffset = reader.Offset;
            string key = reader.ReadTextString("payload key", MaxKeyLength);
            if (!seen.Add(key))
            {
                throw new EvidenceFormatException(
                    EvidenceFormat.Nitro, EvidenceFormatError.DuplicateField, key, keyOffset, $"the key \"{key}\" appears twice");
            }

            switch (key)
            {
                case "module_id":
                    moduleId = reader.ReadTextString(key, MaxModuleIdLength);
                    if (moduleId.Length == 0)
                    {
                        throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, key, keyOffset, "module_id is empty");
                    }

                    break;
                case "digest":
                    digest = reader.ReadTextString(key, MaxDigestLength);
                    break;
                case "timestamp":
                    timestamp = reader.ReadUInt64(key);
                    break;
                case "pcrs":
                    pcrs = ReadPcrs(reader);
                    break;
                case "certificate":
                    certificate = ReadCertificate(reader, key);
                    break;
                case "cabundle":
                    caBundle = ReadCaBundle(reader);
                    break;
                case "public_key":
                    publicKey = ReadOptionalBytes(reader, key);
                    break;
                case "user_data":
                    userData = ReadOptionalBytes(reader, key);
                    break;
                case "nonce":
                    nonce = ReadOptionalBytes(reader, key);
                    break;
                default:
                    throw new EvidenceFormatException(
                        EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, "payload key", keyOffset, $"unknown key \"{Clip(key)}\"");
            }
        }

        reader.ReadMapEnd("payload");

        if (!reader.AtEnd)
        {
            throw new EvidenceFormatException(
                EvidenceFormat.Nitro, EvidenceFormatError.TrailingBytes, "payload", reader.Offset, "bytes follow the payload map");
        }

        return new UnverifiedNitroDocument(
            tagged,
            protectedHeader,
            algorithm,
            labels,
            payload.ToArray(),
            signature,
            moduleId ?? throw Missing("module_id", baseOffset),
            digest ?? throw Missing("digest", baseOffset),
            timestamp ?? throw Missing("timestamp", baseOffset),
            pcrs ?? throw Missing("pcrs", baseOffset),
            certificate ?? throw Missing("certificate", baseOffset),
            caBundle ?? throw Missing("cabundle", baseOffset),
            publicKey,
            userData,
            nonce);
    }

    private static List<KeyValuePair<int, byte[]>> ReadPcrs(NitroCbor reader)
    {
        int? count = reader.ReadMapStart("pcrs", MaxPcrCount, allowIndefinite: true);
        SortedDictionary<int, byte[]> pcrs = [];
        for (int i = 0; count is null ? !reader.PeekIsEnd() : i < count; i++)
        {
            int indexOffset = reader.Offset;
            if (i >= MaxPcrCount)
            {
                throw new EvidenceFormatException(
                    EvidenceFormat.Nitro, EvidenceFormatError.LengthOutOfRange, "pcrs", indexOffset, $"more than {MaxPcrCount} PCRs");
            }

            ulong index = reader.ReadUInt64("pcrs index");
            if (index > MaxPcrIndex)
            {
                throw new EvidenceFormatException(
                    EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, "pcrs index", indexOffset, $"PCR index {index} is above {MaxPcrIndex}");
            }

            int valueOffset = reader.Offset;
            byte[] value = reader.ReadByteString($"pcrs.{index}", 64).ToArray();
            if (value.Length is not (32 or 48 or 64))
            {
                throw new EvidenceFormatException(
                    EvidenceFormat.Nitro, EvidenceFormatError.LengthOutOfRange, $"pcrs.{index}", valueOffset, $"a PCR is 32, 48 or 64 bytes, not {value.Length}");
            }

            if (!pcrs.TryAdd((int)index, value))
            {
                throw new EvidenceFormatException(
                    EvidenceFormat.Nitro, EvidenceFormatError.DuplicateField, "pcrs index", indexOffset, $"PCR {index} appears twice");
            }
        }

        reader.ReadMapEnd("pcrs");

        if (pcrs.Count == 0)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.LengthOutOfRange, "pcrs", reader.Offset, "no PCR is given");
        }

        return [.. pcrs];
    }

    private static List<byte[]> ReadCaBundle(NitroCbor reader)
    {
        int? count = reader.ReadArrayStart("cabundle", MaxCaBundleCount, allowIndefinite: true);
        List<byte[]> bundle = [];
        for (int i = 0; count is null ? !reader.PeekIsEnd() : i < count; i++)
        {
            if (i >= MaxCaBundleCount)
            {
                throw new EvidenceFormatException(
                    EvidenceFormat.Nitro, EvidenceFormatError.LengthOutOfRange, "cabundle", reader.Offset, $"more than {MaxCaBundleCount} certificates");
            }

            bundle.Add(ReadCertificate(reader, $"cabundle.{i}"));
        }

        reader.ReadArrayEnd("cabundle");

        if (bundle.Count == 0)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.LengthOutOfRange, "cabundle", reader.Offset, "the CA bundle is empty");
        }

        return bundle;
    }

    private static byte[] ReadCertificate(NitroCbor reader, string field)
    {
        int offset = reader.Offset;
        byte[] der = reader.ReadByteString(field, MaxCertificateLength).ToArray();
        if (der.Length == 0)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.LengthOutOfRange, field, offset, "the certificate is empty");
        }

        return der;
    }

    private static byte[]? ReadOptionalBytes(NitroCbor reader, string field)
    {
        if (reader.PeekIsNull())
        {
            reader.ReadNull(field);
            return null;
        }

        return reader.ReadByteString(field, MaxOptionalFieldLength).ToArray();
    }

    private static EvidenceFormatException Missing(string field, int offset) =>
        new(EvidenceFormat.Nitro, EvidenceFormatError.MissingField, field, offset, $"the payload has no \"{field}\"");

    private static string Clip(string text) => text.Length > 32 ? text[..32] + "..." : text;
}
