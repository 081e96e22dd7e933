using Enclave.Crypto;

namespace Enclave.KeyBroker.Tokens;

/// <summary>Supplies the token-signing keys (JWKS) of a trusted attestation verifier.</summary>
public interface IVerifierKeySource
{
    /// <summary>The current key set of <paramref name="issuer"/>. With <paramref name="refresh"/> the
    /// source may bypass its cache (used once when a token names an unknown kid).</summary>
    /// <exception cref="VerifierKeysUnavailableException">The keys cannot be obtained.</exception>
    ValueTask<JwkSet> GetKeysAsync(string issuer, bool refresh, CancellationToken cancellationToken = default);
}

/// <summary>The keys of a verifier could not be obtained (unknown issuer, network failure, bad JWKS).</summary>
public sealed class VerifierKeysUnavailableException : Exception
{
    public VerifierKeysUnavailableException(string message)
        : base(message)
    {
    }

    public VerifierKeysUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
