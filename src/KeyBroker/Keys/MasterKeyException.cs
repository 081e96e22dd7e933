namespace Enclave.KeyBroker.Keys;

/// <summary>Why a master key could not be opened or used.</summary>
public enum MasterKeyError
{
    /// <summary>The PKCS#11 module is missing or does not load.</summary>
    ModuleNotLoaded,

    /// <summary>No token (or more than one) has the configured label.</summary>
    TokenNotFound,

    /// <summary>The token refused the PIN.</summary>
    LoginFailed,

    /// <summary>The token does not offer the wrapping mechanism (CKM_AES_GCM).</summary>
    MechanismNotSupported,

    /// <summary>No key object has the configured label and creation was not allowed.</summary>
    KeyNotFound,

    /// <summary>The key object is not a unique, sensitive, non-extractable AES-256 key.</summary>
    KeyInvalid,

    /// <summary>The device failed an operation.</summary>
    DeviceError,

    /// <summary>The configured kind of master key is not allowed in this mode.</summary>
    NotAllowed,
}

/// <summary>A master key could not be opened or used; <see cref="Error"/> says why.</summary>
public sealed class MasterKeyException : Exception
{
    public MasterKeyException(MasterKeyError error, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
    }

    public MasterKeyError Error { get; }
}
