namespace Enclave.KeyBroker;

/// <summary>A release request: the key name and the attestation token are required; the version, a nonce
/// the caller expects in the token, and the key-management algorithm are optional (Key Vault's
/// <c>ReleaseKeyOptions</c> shape). The key name is the full id, <c>{ownerThumbprint}/{name}</c> (Keys/KeyId.cs).</summary>
public sealed class ReleaseKeyOptions
{
    public ReleaseKeyOptions(string keyName, string attestationToken)
    {
        KeyName = keyName ?? string.Empty;
        AttestationToken = attestationToken ?? string.Empty;
    }

    public string KeyName { get; }

    public string AttestationToken { get; }

    /// <summary>The version to release; null for the latest. Only the latest version is ever released, so
    /// any other version is denied like an unknown key.</summary>
    public int? Version { get; set; }

    /// <summary>When set, the token's nonce must equal it (denied with NonceMismatch otherwise).</summary>
    public string? Nonce { get; set; }

    /// <summary>When set, "RSA-OAEP-256" or "ECDH-ES+A256KW": the token's first encryption key must be of
    /// the matching type (denied with NoEncryptionKey otherwise).</summary>
    public string? Algorithm { get; set; }

    /// <summary>The network address the request came from (the transports set it). Releases whose token does
    /// not validate are rate-limited per address; null shares one bucket with every other unknown caller.</summary>
    public string? Caller { get; set; }
}
