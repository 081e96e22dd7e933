// A small bounded CBOR reader (RFC 8949) for the items a Nitro attestation document uses: unsigned and
// negative integers (major types 0 and 1), byte and text strings (2, 3), arrays (4), maps (5), tags (6) and the
// simple values false, true and null (7). Every item head is "initial byte, then 0/1/2/4/8 argument bytes";
// additional information 28..30 is reserved and refused. Definite-length strings only; indefinite-length
// arrays and maps (additional information 31, closed by the break byte 0xFF) are accepted only where the
// caller allows them. Floats, undefined and other simple values are refused. Lengths are checked against the
// bytes left before anything is read.
using System.Text;

namespace Enclave.AttestationVerifier.Evidence.Nitro;

/// <summary>CBOR major types (RFC 8949 section 3.1).</summary>
internal enum CborMajorType
{
    UnsignedInteger = 0,
    NegativeInteger = 1,
    ByteString = 2,
    TextString = 3,
    Array = 4,
    Map = 5,
    Tag = 6,
    Simple = 7,
}

/// <summary>Forward-only reader over CBOR bytes; throws only <see cref="EvidenceFormatException"/>.</summary>
internal ref struct CborReader
{
    public const int MaxSkipDepth = 8;
    public const int MaxSkipItems = 256;

    private const byte Break = 0xFF;
    private const byte SimpleFalse = 0xF4;
    private const byte SimpleTrue = 0xF5;
    private const byte SimpleNull = 0xF6;

    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly ReadOnlySpan<byte> _data;
    private readonly EvidenceFormat _format;
    private readonly int _baseOffset;
    private int _position;

    public CborReader(ReadOnlySpan<byte> data, EvidenceFormat format, int baseOffset = 0)
    {
        _data = data;
        _format = format;
        _baseOffset = baseOffset;
        _position = 0;
    }

    /// <summary>Offset of the next item, relative to the start of the outermost evidence.</summary>
    public readonly int Offset => _baseOffset + _position;

    public readonly int Position => _position;

    public readonly int Remaining => _data.Length - _position;

    public readonly bool AtEnd => _position == _data.Length;

    /// <summary>The major type of the next item, without consuming it.</summary>
    public readonly CborMajorType PeekMajorType(string field)
    {
        if (_position >= _data.Length)
        {
            throw Error(EvidenceFormatError.Truncated, field, "the bytes end before this item");
        }

        return (CborMajorType)(_data[_position] >> 5);
    }

    public readonly bool PeekIsNull() => _position < _data.Length && _data[_position] == SimpleNull;

    public readonly bool PeekIsBreak() => _position < _data.Length && _data[_position] == Break;

    /// <summary>Consumes a break byte (the end of an indefinite-length array or map).</summary>
    public void ReadBreak(string field)
    {
        if (!PeekIsBreak())
        {
            throw Error(EvidenceFormatError.InvalidValue, field, "expected the break byte 0xFF");
        }

        _position++;
    }

    public void ReadNull(string field)
    {
        if (!PeekIsNull())
        {
            throw Error(EvidenceFormatError.UnexpectedType, field, "expected null");
        }

        _position++;
    }

    /// <summary>Reads a tag number if the next item is a tag; returns null otherwise.</summary>
    public ulong? TryReadTag(string field)
    {
        if (_position >= _data.Length || (CborMajorType)(_data[_position] >> 5) != CborMajorType.Tag)
        {
            return null;
        }

        (_, ulong value, bool indefinite) = ReadHead(field);
        if (indefinite)
        {
            throw Error(EvidenceFormatError.InvalidValue, field, "a tag cannot have indefinite length");
        }

        return value;
    }

    /// <summary>Reads an unsigned or negative integer that fits in a long.</summary>
    public long ReadInt64(string field)
    {
        int start = Offset;
        (CborMajorType major, ulong value, bool indefinite) = ReadHead(field);
        if (indefinite || major is not (CborMajorType.UnsignedInteger or CborMajorType.NegativeInteger))
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.UnexpectedType, field, start, "expected an integer");
        }

        if (value > long.MaxValue)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.InvalidValue, field, start, "the integer does not fit in 64 signed bits");
        }

        return major == CborMajorType.UnsignedInteger ? (long)value : -1 - (long)value;
    }

    public ulong ReadUInt64(string field)
    {
        int start = Offset;
        (CborMajorType major, ulong value, bool indefinite) = ReadHead(field);
        if (indefinite || major != CborMajorType.UnsignedInteger)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.UnexpectedType, field, start, "expected an unsigned integer");
        }

        return value;
    }

    /// <summary>Reads a definite-length byte string of at most <paramref name="maxLength"/> bytes.</summary>
    public ReadOnlySpan<byte> ReadByteString(string field, int maxLength) =>
        ReadString(CborMajorType.ByteString, field, maxLength);

    /// <summary>Reads a definite-length UTF-8 text string of at most <paramref name="maxLength"/> bytes.</summary>
    public string ReadTextString(string field, int maxLength)
    {
        int start = Offset;
        ReadOnlySpan<byte> bytes = ReadString(CborMajorType.TextString, field, maxLength);
        try
        {
            return s_strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.InvalidValue, field, start, "the text is not valid UTF-8");
        }
    }

    /// <summary>Reads an array head; returns the count, or null for an indefinite-length array when allowed.</summary>
    public int? ReadArrayStart(string field, int maxCount, bool allowIndefinite) =>
        ReadContainerStart(CborMajorType.Array, field, maxCount, allowIndefinite);

    /// <summary>Reads a map head; returns the number of pairs, or null for an indefinite-length map when allowed.</summary>
    public int? ReadMapStart(string field, int maxCount, bool allowIndefinite) =>
        ReadContainerStart(CborMajorType.Map, field, maxCount, allowIndefinite);

    /// <summary>Skips one well-formed item (used for header values this verifier ignores), bounded in depth and count.</summary>
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

        CborMajorType major = PeekMajorType(field);
        switch (major)
        {
            case CborMajorType.UnsignedInteger:
            case CborMajorType.NegativeInteger:
                ReadHead(field);
                break;
            case CborMajorType.ByteString:
            case CborMajorType.TextString:
                ReadString(major, field, _data.Length);
                break;
            case CborMajorType.Array:
            case CborMajorType.Map:
                int? count = ReadContainerStart(major, field, MaxSkipItems, allowIndefinite: true);
                int perEntry = major == CborMajorType.Map ? 2 : 1;
                if (count is int n)
                {
                    for (int i = 0; i < n * perEntry; i++)
                    {
                        SkipItem(field, depth + 1, ref budget);
                    }
                }
                else
                {
                    while (!PeekIsBreak())
                    {
                        for (int i = 0; i < perEntry; i++)
                        {
                            SkipItem(field, depth + 1, ref budget);
                        }
                    }

                    ReadBreak(field);
                }

                break;
            case CborMajorType.Tag:
                TryReadTag(field);
                SkipItem(field, depth + 1, ref budget);
                break;
            default:
                byte b = _data[_position];
                if (b is not (SimpleFalse or SimpleTrue or SimpleNull))
                {
                    throw Error(EvidenceFormatError.InvalidValue, field, $"the simple value or float 0x{b:x2} is not allowed");
                }

                _position++;
                break;
        }
    }

    private int? ReadContainerStart(CborMajorType expected, string field, int maxCount, bool allowIndefinite)
    {
        int start = Offset;
        (CborMajorType major, ulong value, bool indefinite) = ReadHead(field);
        if (major != expected)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.UnexpectedType, field, start, $"expected a {Describe(expected)}");
        }

        if (indefinite)
        {
            if (!allowIndefinite)
            {
                throw new EvidenceFormatException(_format, EvidenceFormatError.InvalidValue, field, start, $"an indefinite-length {Describe(expected)} is not allowed here");
            }

            return null;
        }

        if (value > (ulong)maxCount)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.LengthOutOfRange, field, start, $"{value} entries; at most {maxCount} are allowed");
        }

        // Every entry takes at least one byte (a map pair two): a count beyond the bytes left is a lie.
        ulong minimumBytes = expected == CborMajorType.Map ? value * 2 : value;
        if (minimumBytes > (ulong)Remaining)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.Truncated, field, start, $"{value} entries cannot fit in the {Remaining} bytes left");
        }

        return (int)value;
    }

    private ReadOnlySpan<byte> ReadString(CborMajorType expected, string field, int maxLength)
    {
        int start = Offset;
        (CborMajorType major, ulong length, bool indefinite) = ReadHead(field);
        if (major != expected)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.UnexpectedType, field, start, $"expected a {Describe(expected)}");
        }

        if (indefinite)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.InvalidValue, field, start, $"an indefinite-length {Describe(expected)} is not allowed");
        }

        if (length > (ulong)maxLength)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.LengthOutOfRange, field, start, $"{length} bytes; at most {maxLength} are allowed");
        }

        if (length > (ulong)Remaining)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.Truncated, field, start, $"declares {length} bytes but {Remaining} are left");
        }

        ReadOnlySpan<byte> value = _data.Slice(_position, (int)length);
        _position += (int)length;
        return value;
    }

    private (CborMajorType Major, ulong Value, bool Indefinite) ReadHead(string field)
    {
        if (_position >= _data.Length)
        {
            throw Error(EvidenceFormatError.Truncated, field, "the bytes end before this item");
        }

        int start = Offset;
        byte initial = _data[_position++];
        var major = (CborMajorType)(initial >> 5);
        int info = initial & 0x1F;
        if (info < 24)
        {
            return (major, (ulong)info, false);
        }

        if (info == 31)
        {
            if (major is not (CborMajorType.ByteString or CborMajorType.TextString or CborMajorType.Array or CborMajorType.Map))
            {
                throw new EvidenceFormatException(_format, EvidenceFormatError.InvalidValue, field, start, $"initial byte 0x{initial:x2} is not well-formed CBOR");
            }

            return (major, 0, true);
        }

        if (info > 27)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.InvalidValue, field, start, $"initial byte 0x{initial:x2} uses reserved additional information");
        }

        if (major == CborMajorType.Simple)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.InvalidValue, field, start, $"floats and extended simple values (0x{initial:x2}) are not allowed");
        }

        int size = 1 << (info - 24);
        if (Remaining < size)
        {
            throw new EvidenceFormatException(_format, EvidenceFormatError.Truncated, field, start, $"the item head needs {size} more bytes");
        }

        ulong value = 0;
        for (int i = 0; i < size; i++)
        {
            value = (value << 8) | _data[_position++];
        }

        return (major, value, false);
    }

    private readonly EvidenceFormatException Error(EvidenceFormatError code, string field, string detail) =>
        new(_format, code, field, Offset, detail);

    private static string Describe(CborMajorType type) => type switch
    {
        CborMajorType.UnsignedInteger => "unsigned integer",
        CborMajorType.NegativeInteger => "negative integer",
        CborMajorType.ByteString => "byte string",
        CborMajorType.TextString => "text string",
        CborMajorType.Array => "array",
        CborMajorType.Map => "map",
        CborMajorType.Tag => "tag",
        _ => "simple value",
    };
}
