// The data owner's signed requests to the key broker: a compact JWS (ES256, kid = RFC 7638 thumbprint of the
// owner key, typ "enclave-owner-request+jws") over {"op","name","iat","jti","aud",...}; the data key travels
// as a JWE to the broker's import key, so only the broker (and then only an attested enclave) can read it.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.Cli.DataOwner;

internal static class OwnerRequests
{
    public const string JwsType = "enclave-owner-request+jws";

    public static (string OwnerJwk, string SignedRequest) Register(ECDsa ownerKey, string keyName, string policyJson, ReadOnlySpan<byte> dataKey, Jwk brokerImportKey)
    {
        var payload = Base(ownerKey, "register", keyName, brokerImportKey);
        payload["policy"] = JsonNode.Parse(policyJson);
        payload["key"] = Jwe.Encrypt(dataKey, brokerImportKey);
        return Sign(ownerKey, payload);
    }

    public static (string OwnerJwk, string SignedRequest) UpdatePolicy(ECDsa ownerKey, string keyName, string policyJson, Jwk brokerImportKey)
    {
        var payload = Base(ownerKey, "updatePolicy", keyName, brokerImportKey);
        payload["policy"] = JsonNode.Parse(policyJson);
        return Sign(ownerKey, payload);
    }

    /// <summary>A new version with a new data key; the latest policy is kept unless <paramref name="policyJson"/> is given.</summary>
    public static (string OwnerJwk, string SignedRequest) Rotate(ECDsa ownerKey, string keyName, ReadOnlySpan<byte> dataKey, string? policyJson, Jwk brokerImportKey)
    {
        var payload = Base(ownerKey, "rotate", keyName, brokerImportKey);
        payload["key"] = Jwe.Encrypt(dataKey, brokerImportKey);
        if (policyJson is not null)
        {
            payload["policy"] = JsonNode.Parse(policyJson);
        }

        return Sign(ownerKey, payload);
    }

    public static (string OwnerJwk, string SignedRequest) SetEnabled(ECDsa ownerKey, string keyName, bool enabled, Jwk brokerImportKey)
    {
        var payload = Base(ownerKey, "setEnabled", keyName, brokerImportKey);
        payload["enabled"] = enabled;
        return Sign(ownerKey, payload);
    }

    public static (string OwnerJwk, string SignedRequest) Delete(ECDsa ownerKey, string keyName, Jwk brokerImportKey) =>
        Sign(ownerKey, Base(ownerKey, "delete", keyName, brokerImportKey));

    private static JsonObject Base(ECDsa ownerKey, string operation, string keyName, Jwk brokerImportKey) => new()
    {
        ["op"] = operation,
        ["name"] = keyName,
        ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["jti"] = Base64Url.Encode(RandomNumberGenerator.GetBytes(18)),
        ["aud"] = brokerImportKey.Kid ?? brokerImportKey.ComputeThumbprint(),
    };

    private static (string, string) Sign(ECDsa ownerKey, JsonObject payload)
    {
        Jwk owner = Jwk.FromEcPublic(ownerKey.ExportParameters(false));
        string signed = Jws.Sign(Encoding.UTF8.GetBytes(payload.ToJsonString()), ownerKey, owner.ComputeThumbprint(), JwsType);
        return (owner.ToJson(), signed);
    }
}
