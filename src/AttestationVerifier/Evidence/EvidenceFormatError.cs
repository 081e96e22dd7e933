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
}
