namespace Enclave.AttestationVerifier.Verification.Maa;

/// <summary>How Azure Attestation tokens are checked.</summary>
public sealed class MaaVerifierOptions
{
    public static readonly TimeSpan DefaultClockSkew = TimeSpan.FromSeconds(60);

    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The attestation provider (e.g. https://sharedwus.wus.attest.azure.net) whose tokens are accepted; the
    /// token's iss must equal it (one trailing slash ignored). When null, an OpenID configuration document among
    /// the endorsements (a JSON object with "issuer" and "jwks_uri") names it; when there is none either, iss
    /// must still be present and is reported in the claims as "issuer" for the caller to check.
    /// </summary>
    public string? ExpectedIssuer { get; init; }

    /// <summary>Tolerance on exp and nbf; at most <see cref="MaxClockSkew"/>.</summary>
    public TimeSpan ClockSkew { get; init; } = DefaultClockSkew;

    /// <summary>
    /// The issuer to expect when the JWKS was obtained from <paramref name="jwksUri"/> (as `enclave attest verify`
    /// does with a provider's /certs address): the URI's origin, e.g. https://sharedwus.wus.attest.azure.net.
    /// </summary>
    /// <exception cref="ArgumentException">The URI is not an absolute https URI.</exception>
    public static string IssuerFromJwksUri(string jwksUri)
    {
        if (!Uri.TryCreate(jwksUri, UriKind.Absolute, out Uri? uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            throw new ArgumentException("The JWKS address must be an absolute https URI.", nameof(jwksUri));
        }

        return uri.GetLeftPart(UriPartial.Authority);
    }

    /// <exception cref="ArgumentException">The skew is negative or too large, or the issuer is blank.</exception>
    public void Validate()
    {
        if (ClockSkew < TimeSpan.Zero || ClockSkew > MaxClockSkew)
        {
            throw new ArgumentException($"The clock skew must lie in [0, {MaxClockSkew}].", nameof(ClockSkew));
        }

        if (ExpectedIssuer is not null && string.IsNullOrWhiteSpace(ExpectedIssuer))
        {
            throw new ArgumentException("The expected issuer is blank.", nameof(ExpectedIssuer));
        }
    }
}
