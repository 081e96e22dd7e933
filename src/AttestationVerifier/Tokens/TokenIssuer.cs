// Attestation token (docs/formats.md section 4): JWT, compact JWS, ES256, header kid = RFC 7638 thumbprint of
// the verifier key, typ JWT. Claims are exactly those of section 4, in its order.
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Verification;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Tokens;

/// <summary>Issues attestation tokens for appraised evidence.</summary>
public sealed class TokenIssuer
{
    public const string Version = "1.0";

    private readonly VerifierSigningKey _signingKey;
    private readonly string _issuer;
    private readonly string _audience;
    private readonly TimeSpan _lifetime;
    private readonly TimeProvider _timeProvider;

    // ECDsa instances are not documented as safe for concurrent use; the transport calls Issue concurrently.
    private readonly Lock _signLock = new();

    /// <exception cref="ArgumentException">The options name no issuer or audience, or a lifetime that is not positive.</exception>
    public TokenIssuer(VerifierSigningKey signingKey, VerifierOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(signingKey);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _signingKey = signingKey;
        _issuer = options.Issuer;
        _audience = options.Audience;
        _lifetime = options.TokenLifetime;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The <c>x-ms-attestation-type</c> value for evidence of <paramref name="format"/>.</summary>
    public static string AttestationType(EvidenceFormat format)
    {
        if (format == EvidenceFormat.SevSnp)
        {
            return "sevsnpvm";
        }

        if (format == EvidenceFormat.Tdx)
        {
            return "tdxvm";
        }

        return format.Value;
    }

    /// <summary>
    /// Issues a token for <paramref name="evidence"/> whose runtime data <paramref name="runtimeData"/> has been
    /// appraised, for a platform enrolled in <paramref name="region"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The runtime data is not valid runtime data (it was not appraised).</exception>
    public IssuedToken Issue(VerifiedEvidence evidence, ReadOnlySpan<byte> runtimeData, string region)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        ArgumentException.ThrowIfNullOrEmpty(region);
        if (!RuntimeData.TryParse(runtimeData, out RuntimeData? parsed, out string error))
        {
            throw new ArgumentException($"runtime data must be appraised before a token is issued: {error}", nameof(runtimeData));
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        long issuedAt = now.ToUnixTimeSeconds();
        long expiresAt = issuedAt + (long)Math.Ceiling(_lifetime.TotalSeconds);
        string tokenId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

        JsonObject claims = new()
        {
            ["iss"] = _issuer,
            ["aud"] = _audience,
            ["iat"] = issuedAt,
            ["nbf"] = issuedAt,
            ["exp"] = expiresAt,
            ["jti"] = tokenId,
            ["x-ms-ver"] = Version,
            ["x-ms-attestation-type"] = AttestationType(evidence.Format),
        };
        if (evidence.PlatformClaims.Count == 0)
        {
            claims["x-ms-sgx-mrenclave"] = evidence.MeasurementHex;
            claims["x-ms-sgx-mrsigner"] = evidence.SignerHex;
            claims["x-ms-sgx-is-debuggable"] = evidence.IsDebug;
            claims["x-ms-sgx-svn"] = evidence.Svn;
            claims["x-ms-sgx-product-id"] = evidence.ProductId;
            claims["x-ms-sgx-report-data"] = evidence.ReportDataHex;
        }
        else
        {
            // The verifier's own claims (issuer, lifetime, attestation type...) are never overridden.
            foreach ((string name, object value) in evidence.PlatformClaims.Where(c => !claims.ContainsKey(c.Key)))
            {
                claims[name] = value switch
                {
                    string text => text,
                    bool flag => flag,
                    long number => number,
                    int number => number,
                    _ => throw new ArgumentException($"platform claim {name} is a {value.GetType().Name}; only strings, integers and booleans are claims", nameof(evidence)),
                };
            }
        }

        claims["x-ms-runtime"] = parsed!.Json;
        claims["nonce"] = parsed.Nonce;
        claims["x-enclave-region"] = region;
        claims["x-enclave-platform-id"] = evidence.PlatformId;
        claims["x-enclave-tcb-status"] = evidence.TcbStatus;

        if (evidence.IsSimulated)
        {
            claims["x-enclave-simulated"] = true;
        }

        string token;
        lock (_signLock)
        {
            token = Jwt.Issue(claims, _signingKey.Key, _signingKey.KeyId);
        }

        return new IssuedToken(token, tokenId, claims, DateTimeOffset.FromUnixTimeSeconds(issuedAt), DateTimeOffset.FromUnixTimeSeconds(expiresAt));
    }
}
