using System.Text.Json;

namespace Enclave.KeyBroker.Policy;

/// <summary>A validated secure-key-release policy (Key Vault grammar plus <c>x-enclave-regions</c> and <c>x-enclave-privacy</c>).
/// Everything that can be wrong with a document is found by <see cref="Parse"/>; evaluation never
/// throws for any claims object.</summary>
public sealed class ReleasePolicy
{
    private readonly ParsedPolicy _parsed;

    private ReleasePolicy(string json, ParsedPolicy parsed)
    {
        Json = json;
        _parsed = parsed;
    }

    /// <summary>The document exactly as it was loaded.</summary>
    public string Json { get; }

    /// <summary>"1.0.0" or "0.2".</summary>
    public string Version => _parsed.Version;

    /// <summary>The authorities (verifier issuer URLs) named by the policy, in document order.</summary>
    public IReadOnlyList<string> Authorities => _parsed.Authorities.Select(a => a.Authority).ToArray();

    /// <summary>True when the top level is <c>allOf</c> (every authority rule must hold).</summary>
    public bool RequiresAllAuthorities => _parsed.RequireAllAuthorities;

    /// <summary>The allowed regions, or null when the policy allows any region.</summary>
    public IReadOnlyList<string>? Regions => _parsed.Regions;

    /// <summary>The key's privacy budget (<c>x-enclave-privacy</c>), or null when releases spend none.</summary>
    public PrivacyBudget? PrivacyBudget => _parsed.Privacy;

    /// <exception cref="PolicyFormatException">The document is not a valid policy; the exception names
    /// the JSON path of the first fault.</exception>
    public static ReleasePolicy Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return new ReleasePolicy(json, PolicyParser.Parse(json));
    }

    public static bool TryParse(string json, out ReleasePolicy? policy, out PolicyFormatException? error)
    {
        try
        {
            policy = Parse(json);
            error = null;
            return true;
        }
        catch (PolicyFormatException e)
        {
            policy = null;
            error = e;
            return false;
        }
    }

    /// <summary>True when some authority of the policy equals <paramref name="issuer"/> (trailing slashes ignored).</summary>
    public bool NamesAuthority(string issuer)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        return _parsed.Authorities.Any(a => PolicyEvaluator.IssuerMatches(a.Authority, issuer));
    }

    /// <summary>Evaluates the policy against a token's claims (a JSON object whose <c>iss</c> is matched
    /// against the authorities).</summary>
    /// <exception cref="ArgumentException"><paramref name="claims"/> is not a JSON object.</exception>
    public PolicyEvaluation Evaluate(JsonElement claims) => PolicyEvaluator.Evaluate(_parsed, claims);
}
