using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier;

/// <summary>Configuration of the attestation verifier. Required inputs are constructor parameters.</summary>
public sealed class VerifierOptions
{
    public const string DefaultAudience = "enclave-key-broker";
    public const string DatabaseFileName = "verifier.db";

    /// <summary>Upper bound on evidence bytes of any format, checked before any parsing.</summary>
    public const int MaxEvidenceLength = 1024 * 1024;

    /// <param name="issuer">The verifier's issuer URL: the <c>iss</c> of every token, and the base of <c>jwks_uri</c>.</param>
    /// <param name="dataDirectory">Holds the node registry (<c>verifier.db</c>) and the token-signing key.</param>
    public VerifierOptions(string issuer, string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(issuer);
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        Issuer = issuer;
        DataDirectory = dataDirectory;
    }

    public string Issuer { get; }

    public string DataDirectory { get; }

    /// <summary>The <c>aud</c> of every token. Defaults to <c>enclave-key-broker</c>.</summary>
    public string Audience { get; set; } = DefaultAudience;

    /// <summary>How long a token is valid (<c>exp - iat</c>). Defaults to 10 minutes; at most 24 hours.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Whether SIMULATED evidence is accepted at all. False unless set: simulated evidence is not secure against
    /// the host, and is for development only. When true, <see cref="SimulatedRoot"/> is required.
    /// </summary>
    public bool AllowSimulated { get; set; }

    /// <summary>The trust anchor for simulated evidence. Not used unless <see cref="AllowSimulated"/>. Not owned.</summary>
    public SimulatedRoot? SimulatedRoot { get; set; }

    /// <summary>Public EC P-256 JWKs of the security-team keys whose signed requests may enrol platforms.</summary>
    public IList<Jwk> EnrollmentKeys { get; } = new List<Jwk>();

    /// <summary>
    /// Folders or files of hardware collateral (PCK/TCB-signing chains, CRLs, TCB info, QE identities, VCEK/VLEK
    /// and AMD CA certificates), recognised by content and loaded once at start. Evidence of a hardware kind whose
    /// collateral is missing is refused as not genuine, never accepted.
    /// </summary>
    public IList<string> CollateralPaths { get; } = new List<string>();

    /// <summary>What evidence must show before a token is issued. Defaults to <see cref="AppraisalPolicy.Default"/>.</summary>
    public AppraisalPolicy Policy { get; set; } = AppraisalPolicy.Default;

    /// <exception cref="ArgumentException">The options are inconsistent.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Audience))
        {
            throw new ArgumentException("the audience must not be empty", nameof(Audience));
        }

        if (TokenLifetime <= TimeSpan.Zero || TokenLifetime > TimeSpan.FromHours(24))
        {
            throw new ArgumentException("the token lifetime must be within (0, 24 h]", nameof(TokenLifetime));
        }

        if (AllowSimulated && SimulatedRoot is null)
        {
            throw new ArgumentException("AllowSimulated requires a SimulatedRoot", nameof(SimulatedRoot));
        }

        if (Policy is null)
        {
            throw new ArgumentException("the appraisal policy must not be null", nameof(Policy));
        }
    }
}
