using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker.Tokens;

/// <summary>Selects the key a released data key is wrapped to: the FIRST entry of the token's top-level
/// <c>x-ms-runtime.keys</c> whose <c>use</c> is <c>enc</c> (as Key Vault secure key release does). Keys
/// elsewhere, for example under <c>x-ms-isolation-tee.x-ms-runtime</c>, are never used. If that first
/// entry is not a supported public key (EC P-256/P-384, RSA 2048-8192) the token has no usable key:
/// later entries are not tried.</summary>
public static class EnclaveEncryptionKey
{
    public static bool TryGet(JsonObject claims, out Jwk? key, out string problem)
    {
        ArgumentNullException.ThrowIfNull(claims);
        key = null;
        if (claims[KnownClaims.Runtime] is not JsonObject runtime)
        {
            problem = "the token has no top-level \"x-ms-runtime\" object";
            return false;
        }

        if (runtime["keys"] is not JsonArray keys)
        {
            problem = "\"x-ms-runtime\" has no \"keys\" array";
            return false;
        }

        foreach (JsonNode? node in keys)
        {
            if (node is not JsonObject candidate
                || candidate["use"] is not JsonValue use
                || use.GetValueKind() != JsonValueKind.String
                || use.GetValue<string>() != "enc")
            {
                continue;
            }

            try
            {
                key = Jwk.Parse(JsonSerializer.SerializeToElement(candidate));
                problem = string.Empty;
                return true;
            }
            catch (JoseException e)
            {
                problem = $"the first \"use\":\"enc\" key is not usable ({e.Code}: {e.Message})";
                return false;
            }
        }

        problem = "\"x-ms-runtime.keys\" has no \"use\":\"enc\" key";
        return false;
    }
}
