using Enclave.Crypto;

namespace Enclave.KeyBroker.Tokens;

/// <summary>Verifier keys fixed at construction, keyed by issuer (trailing slashes ignored).</summary>
public sealed class StaticVerifierKeySource : IVerifierKeySource
{
    private readonly Dictionary<string, JwkSet> _keys = new(StringComparer.Ordinal);

    public StaticVerifierKeySource(IEnumerable<KeyValuePair<string, JwkSet>> keysByIssuer)
    {
        ArgumentNullException.ThrowIfNull(keysByIssuer);
        foreach ((string issuer, JwkSet keys) in keysByIssuer)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(issuer);
            ArgumentNullException.ThrowIfNull(keys);
            _keys[Normalize(issuer)] = keys;
        }
    }

    public StaticVerifierKeySource(string issuer, JwkSet keys)
        : this([new KeyValuePair<string, JwkSet>(issuer, keys)])
    {
    }

    public ValueTask<JwkSet> GetKeysAsync(string issuer, bool refresh, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        return _keys.TryGetValue(Normalize(issuer), out JwkSet? keys)
            ? ValueTask.FromResult(keys)
            : ValueTask.FromException<JwkSet>(new VerifierKeysUnavailableException($"No keys are configured for issuer \"{issuer}\"."));
    }

    internal static string Normalize(string issuer) => issuer.TrimEnd('/');
}
