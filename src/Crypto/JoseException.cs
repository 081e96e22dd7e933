// Errors of the JOSE layer (RFC 7515 JWS, RFC 7516 JWE, RFC 7517 JWK, RFC 7519 JWT).

namespace Enclave.Crypto;

public enum JoseError
{
    Malformed,
    UnsupportedAlgorithm,
    ForbiddenHeader,
    UnknownKey,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    MissingClaim,
    LifetimeTooLong,
    DecryptionFailed,
    UnsupportedKey,
}

/// <summary>A JOSE object or key was rejected; <see cref="Code"/> says why.</summary>
public sealed class JoseException : Exception
{
    public JoseException(JoseError code, string message)
        : base(message)
    {
        Code = code;
    }

    public JoseException(JoseError code, string message, Exception? innerException)
        : base(message, innerException)
    {
        Code = code;
    }

    public JoseError Code { get; }

    /// <summary>For a compact JWS that could not be read (<see cref="CompactJws"/>): which rule it broke, in
    /// which part, at which offset; null otherwise.</summary>
    public JwsFormatError? FormatError { get; init; }

    public override string ToString() => $"{nameof(JoseException)} ({Code}): {base.ToString()}";
}
