namespace Enclave.AttestationVerifier.Evidence;

/// <summary>Stable codes for malformed evidence bytes.</summary>
public enum EvidenceFormatError
{
    /// <summary>The bytes end before a field that the format requires.</summary>
    Truncated = 1,

    /// <summary>Bytes follow the last field of the format.</summary>
    TrailingBytes = 2,

    /// <summary>The evidence is longer than any valid evidence of its format.</summary>
    TooLarge = 3,

    /// <summary>The magic bytes do not name the format.</summary>
    BadMagic = 4,

    /// <summary>The version field names a version this verifier does not parse.</summary>
    UnsupportedVersion = 5,

    /// <summary>A flag bit that the format reserves is set.</summary>
    ReservedFlagsSet = 6,

    /// <summary>A length field is outside the range the format allows.</summary>
    LengthOutOfRange = 7,

    /// <summary>A map or object names the same key or member twice.</summary>
    DuplicateField = 8,

    /// <summary>A value has the wrong type for its field (text where bytes are required, ...).</summary>
    UnexpectedType = 9,

    /// <summary>A field that the format requires is absent.</summary>
    MissingField = 10,

    /// <summary>A field's value is outside what the format allows (unknown key, bad encoding, bad range).</summary>
    InvalidValue = 11,

    /// <summary>Values are nested deeper than the parser allows.</summary>
    NestingTooDeep = 12,
}
