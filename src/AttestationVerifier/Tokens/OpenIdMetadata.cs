using System.Text.Json.Nodes;

namespace Enclave.AttestationVerifier.Tokens;

/// <summary>
/// The verifier's OpenID Provider metadata (served at <c>/.well-known/openid-configuration</c>) so that standard
/// JWT libraries can find the keys (<c>/certs</c>) that sign attestation tokens.
/// </summary>
public static class OpenIdMetadata
{
    public const string WellKnownPath = "/.well-known/openid-configuration";
    public const string JwksPath = "/certs";

    /// <summary>Every claim an attestation token can carry (docs/formats.md section 4).</summary>
    public static IReadOnlyList<string> ClaimsSupported { get; } =
    [
        "iss", "aud", "iat", "nbf", "exp", "jti",
        "x-ms-ver", "x-ms-attestation-type",
        "x-ms-sgx-mrenclave", "x-ms-sgx-mrsigner", "x-ms-sgx-is-debuggable", "x-ms-sgx-svn", "x-ms-sgx-product-id",
        "x-ms-sgx-report-data", "x-ms-runtime", "nonce",
        "x-enclave-region", "x-enclave-platform-id", "x-enclave-tcb-status", "x-enclave-simulated",
    ];

    /// <summary>The <c>jwks_uri</c> for <paramref name="issuer"/>: the issuer followed by <c>/certs</c>.</summary>
    public static string JwksUri(string issuer)
    {
        ArgumentException.ThrowIfNullOrEmpty(issuer);
        return issuer.TrimEnd('/') + JwksPath;
    }

    public static JsonObject Create(string issuer)
    {
        ArgumentException.ThrowIfNullOrEmpty(issuer);
        JsonArray claims = [];
        foreach (string claim in ClaimsSupported)
        {
            claims.Add(claim);
        }

        return new JsonObject
        {
            ["issuer"] = issuer,
            ["jwks_uri"] = JwksUri(issuer),
            ["response_types_supported"] = new JsonArray("token"),
            ["id_token_signing_alg_values_supported"] = new JsonArray("ES256"),
            ["claims_supported"] = claims,
        };
    }

    public static string ToJson(string issuer) => Create(issuer).ToJsonString();
}
