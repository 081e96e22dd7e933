// The Nitro parser's view of System.Formats.Cbor (RFC 8949) in CborConformanceMode.Strict: well-formed items,
// valid UTF-8 and no duplicate map keys; Canonical is not used because genuine documents (serde_cbor) keep
// their struct's key order and recent ones use indefinite-length payload maps. Bounded before anything is
// read: a string's declared length is checked against the caller's limit and the bytes left, a container's
// count against the caller's limit and the bytes left, skipped items in depth and number. Floats, undefined
// and simple values other than false/true/null are refused. Every library exception becomes an
// EvidenceFormatException.
using System.Formats.Cbor;
using System.Text;

namespace Enclave.AttestationVerifier.Evidence.Nitro;

/// <summary>Forward-only reader over one CBOR item; throws only <see cref="EvidenceFormatException"/>.</summary>
internal sealed class NitroCbor
{
    public const int MaxSkipDepth = 8;
    public const int MaxSkipItems = 256;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlyMemory<byte> _data;
    private readonly CborReader _reader;
    private readonly int _baseOffset;

    public NitroCbor(ReadOnlyMemory<byte> data, int baseOffset = 0)
    {
        _data = data;
        _baseOffset = baseOffset;
        _reader = new CborReader(data, CborConformanceMode.Strict, allowMultipleRootLevelValues: false);
    }

    /// <summary>Offset of the next item, relative to the start of the outermost evidence.</summary>
    public int Offset => _baseOffset + Position;

    public int Remaining => _reader.BytesRemaining;

    public bool AtEnd => _reader.BytesRemaining == 0;

    private int Position => _data.Length - _reader.BytesRemaining;

    public CborReaderState Peek(string field) => Guard(field, () => _reader.PeekState());

    public bool PeekIsNull() => Remaining > 0 && Peek("item") == CborReaderState.Null;

    /// <summary>True at the end of the current array or map (definite or indefinite).</summary>
    public bool PeekIsEnd() => Peek("item") is CborReaderState.EndArray or CborReaderState.EndMap;

    public void ReadNull(string field) => Guard(field, () => { _reader.ReadNull(); return 0; });

    /// <summary>Reads a tag number if the next item is a tag; returns null otherwise.</summary>
    public ulong? TryReadTag(string field) =>
        Remaining > 0 && Peek(field) == CborReaderState.Tag ? (ulong)Guard(field, () => _reader.ReadTag()) : null;

    /// <summary>Reads an unsigned or negative integer that fits in a long.</summary>
    public long ReadInt64(string field)
    {
        ExpectState(field, "an integer", CborReaderState.UnsignedInteger, CborReaderState.NegativeInteger);
        return Guard(field, () => _reader.ReadInt64());
    }

    public ulong ReadUInt64(string field)
    {
        ExpectState(field, "an unsigned integer", CborReaderState.UnsignedInteger);
        return Guard(field, () => _reader.ReadUInt64());
    }

    /// <summary>A definite-length byte string of at most <paramref name="maxLength"/> bytes (a slice, not a copy).</summary>
    public ReadOnlyMemory<byte> ReadByteString(string field, int maxLength)
    {
        ExpectState(field, "a definite-length byte string", CborReaderState.ByteString);
        CheckDeclaredLength(field, maxLength);
        return Guard(field, () => _reader.ReadDefiniteLengthByteString());
    }

    /// <summary>A definite-length UTF-8 text string of at most <paramref name="maxLength"/> bytes.</summary>
    public string ReadTextString(string field, int maxLength)
    {
        ExpectState(field, "a definite-length text string", CborReaderState.TextString);
        CheckDeclaredLength(field, maxLength);
        int start = Offset;
        ReadOnlyMemory<byte> bytes = Guard(field, () => _reader.ReadDefiniteLengthTextStringBytes());
        try
        {
            return s_strictUtf8.GetString(bytes.Span);
        }
        catch (DecoderFallbackException)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, field, start, "the text is not valid UTF-8");
        }
    }

    /// <summary>An array head: its count, or null for an indefinite-length array when allowed.</summary>
    public int? ReadArrayStart(string field, int maxCount, bool allowIndefinite)
    {
        ExpectState(field, "an array", CborReaderState.StartArray);
        int start = Offset;
        int? count = Guard(field, () => _reader.ReadStartArray());
        return CheckCount(field, start, count, maxCount, allowIndefinite, 1);
    }

    /// <summary>A map head: its number of pairs, or null for an indefinite-length map when allowed.</summary>
    public int? ReadMapStart(string field, int maxCount, bool allowIndefinite)
    {
        ExpectState(field, "a map", CborReaderState.StartMap);
        int start = Offset;
        int? count = Guard(field, () => _reader.ReadStartMap());
        return CheckCount(field, start, count, maxCount, allowIndefinite, 2);
    }

    public void ReadArrayEnd(string field) => Guard(field, () => { _reader.ReadEndArray(); return 0; });

    public void ReadMapEnd(string field) => Guard(field, () => { _reader.ReadEndMap(); return 0; });

    /// <summary>Skips one well-formed item (header values this verifier ignores), bounded in depth and count.</summary>
    public void SkipItem(string field)
    {
        int budget = MaxSkipItems;
        SkipItem(field, 0, ref budget);
    }

    private void SkipItem(string field, int depth, ref int budget)
    {
        if (depth > MaxSkipDepth)
        {
            throw Error(EvidenceFormatError.NestingTooDeep, field, $"items are nested deeper than {MaxSkipDepth}");
        }

        if (--budget < 0)
        {
            throw Error(EvidenceFormatError.TooLarge, field, $"more than {MaxSkipItems} items");
        }

        switch (Peek(field))
        {
            case CborReaderState.UnsignedInteger:
            case CborReaderState.NegativeInteger:
            case CborReaderState.Boolean:
            case CborReaderState.Null:
                Guard(field, () => { _reader.SkipValue(); return 0; });
                break;
            case CborReaderState.ByteString:
                ReadByteString(field, _data.Length);
                break;
            case CborReaderState.TextString:
                ReadTextString(field, _data.Length);
                break;
            case CborReaderState.StartArray:
            case CborReaderState.StartMap:
                bool map = Peek(field) == CborReaderState.StartMap;
                int? count = map ? ReadMapStart(field, MaxSkipItems, allowIndefinite: true) : ReadArrayStart(field, MaxSkipItems, allowIndefinite: true);
                int items = (count ?? 0) * (map ? 2 : 1);
                for (int i = 0; count is null ? !PeekIsEnd() : i < items; i++)
                {
                    SkipItem(field, depth + 1, ref budget);
                }

                if (map)
                {
                    ReadMapEnd(field);
                }
                else
                {
                    ReadArrayEnd(field);
                }

                break;
            case CborReaderState.Tag:
                TryReadTag(field);
                SkipItem(field, depth + 1, ref budget);
                break;
            default:
                throw Error(EvidenceFormatError.InvalidValue, field, $"a {Peek(field)} item is not allowed");
        }
    }

    private void ExpectState(string field, string what, params ReadOnlySpan<CborReaderState> allowed)
    {
        if (Remaining == 0)
        {
            throw Error(EvidenceFormatError.Truncated, field, "the bytes end before this item");
        }

        CborReaderState state = Peek(field);
        if (!allowed.Contains(state))
        {
            throw Error(EvidenceFormatError.UnexpectedType, field, $"expected {what}, found {state}");
        }
    }

    // The argument of the string head at the current position (RFC 8949 section 3), checked against the limit and
    // the bytes left before the library reads (and for text, decodes) anything.
    private void CheckDeclaredLength(string field, int maxLength)
    {
        ReadOnlySpan<byte> head = _data.Span[Position..];
        int info = head[0] & 0x1F;
        int size = info < 24 ? 0 : info <= 27 ? 1 << (info - 24) : -1;
        if (size < 0 || head.Length < 1 + size)
        {
            throw Error(size < 0 ? EvidenceFormatError.InvalidValue : EvidenceFormatError.Truncated, field, "the string head is not well-formed");
        }

        ulong length = (ulong)info;
        if (size > 0)
        {
            length = 0;
            foreach (byte b in head.Slice(1, size))
            {
                length = (length << 8) | b;
            }
        }

        if (length > (ulong)maxLength)
        {
            throw Error(EvidenceFormatError.LengthOutOfRange, field, $"{length} bytes; at most {maxLength} are allowed");
        }

        if (length > (ulong)(head.Length - 1 - size))
        {
            throw Error(EvidenceFormatError.Truncated, field, $"declares {length} bytes but {head.Length - 1 - size} are left");
        }
    }

    private int? CheckCount(string field, int start, int? count, int maxCount, bool allowIndefinite, int minimumBytesPerEntry)
    {
        if (count is null)
        {
            return allowIndefinite
                ? null
                : throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, field, start, "an indefinite length is not allowed here");
        }

        if (count > maxCount)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.LengthOutOfRange, field, start, $"{count} entries; at most {maxCount} are allowed");
        }

        // Every entry takes at least one byte (a map pair two): a count beyond the bytes left is a lie.
        if ((long)count * minimumBytesPerEntry > Remaining)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.Truncated, field, start, $"{count} entries cannot fit in the {Remaining} bytes left");
        }

        return count;
    }

    private T Guard<T>(string field, Func<T> read)
    {
        int offset = Offset;
        try
        {
            return read();
        }
        catch (CborContentException e)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, field, offset, e.Message);
        }
        catch (InvalidOperationException e)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.UnexpectedType, field, offset, e.Message);
        }
        catch (OverflowException e)
        {
            throw new EvidenceFormatException(EvidenceFormat.Nitro, EvidenceFormatError.InvalidValue, field, offset, e.Message);
        }
    }

    private EvidenceFormatException Error(EvidenceFormatError code, string field, string detail) =>
        new(EvidenceFormat.Nitro, code, field, Offset, detail);
}
