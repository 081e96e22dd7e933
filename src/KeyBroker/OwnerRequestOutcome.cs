namespace Enclave.KeyBroker;

/// <summary>Why an owner request was refused.</summary>
public enum OwnerRequestError
{
    /// <summary>The owner key, the JWS or its payload is malformed, or the operation is not the one expected.</summary>
    Malformed,

    /// <summary>The owner key is not an EC P-256 public JWK.</summary>
    UnsupportedOwnerKey,

    /// <summary>The JWS does not verify with the owner key (or its kid is not the key's thumbprint).</summary>
    BadSignature,

    /// <summary>The request's <c>aud</c> is not this broker's import key id.</summary>
    WrongAudience,

    /// <summary><c>iat</c> is more than five minutes away from the broker's clock.</summary>
    Stale,

    /// <summary>The request id (<c>jti</c>) was already used by this owner.</summary>
    Replayed,

    /// <summary>The key name does not match <c>^[a-z0-9][a-z0-9-]{0,62}$</c>.</summary>
    InvalidKeyName,

    /// <summary>The policy is not a valid release policy, or names no trusted verifier as authority.</summary>
    InvalidPolicy,

    /// <summary>The data key JWE does not decrypt with the import key to exactly 32 bytes.</summary>
    InvalidDataKey,

    /// <summary>(Updates, rotation, deletion) the signer owns no live key of that name. Registration never meets
    /// it: key ids are namespaced by their owner (<see cref="Keys.KeyId"/>).</summary>
    NotOwner,

    /// <summary>The stored key record no longer authenticates under the master key.</summary>
    KeyIntegrityFailure,
}

/// <summary>The result of an owner request (register, update policy, enable/disable).</summary>
public sealed class OwnerRequestOutcome
{
    private OwnerRequestOutcome(bool succeeded, string? keyName, int? keyVersion, string? receiptId, OwnerRequestError? error, string detail)
    {
        Succeeded = succeeded;
        KeyName = keyName;
        KeyVersion = keyVersion;
        ReceiptId = receiptId;
        Error = error;
        Detail = detail;
    }

    public bool Succeeded { get; }

    /// <summary>The full key id, <c>{ownerThumbprint}/{name}</c> (<see cref="Keys.KeyId"/>), that releases name.</summary>
    public string? KeyName { get; }

    /// <summary>The version created or changed.</summary>
    public int? KeyVersion { get; }

    /// <summary>The id of the audit entry recording the change.</summary>
    public string? ReceiptId { get; }

    public OwnerRequestError? Error { get; }

    /// <summary>Human-readable reason; safe to return to the (authenticated) owner.</summary>
    public string Detail { get; }

    internal static OwnerRequestOutcome Success(string keyName, int version, string receiptId, string detail) =>
        new(true, keyName, version, receiptId, null, detail);

    internal static OwnerRequestOutcome Failure(OwnerRequestError error, string detail) =>
        new(false, null, null, null, error, detail);
}
