using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Tests.Support;

/// <summary>Hand-made hostile tokens (BAD-INPUTS section 4): algorithm confusion, keys in headers, zero signatures.</summary>
internal static class TokenAttacks
{
    /// <summary>A token for a fresh nonce whose header has <paramref name="name"/> added, signed by the
    /// genuine verifier key (so only the header is wrong).</summary>
    public static string WithHeader(BrokerHarness h, string name, JsonNode value, ECDsa? signer = null)
    {
        var header = new JsonObject { ["alg"] = "ES256", ["kid"] = h.VerifierJwk.Kid, ["typ"] = "JWT", [name] = value };
        return Sign(header, h.Claims(h.Broker.IssueNonce().Value), signer ?? h.VerifierKey);
    }

    /// <summary>An HS256 token whose HMAC key is the verifier's public key (its JWK JSON and, as a second
    /// guess of what a confused library uses, its raw SEC1 point): the RS/ES-to-HS confusion.</summary>
    public static string Hs256WithPublicKey(BrokerHarness h, bool rawPoint = false)
    {
        var header = new JsonObject { ["alg"] = "HS256", ["kid"] = h.VerifierJwk.Kid, ["typ"] = "JWT" };
        string signingInput = Encode(header) + "." + Encode(h.Claims(h.Broker.IssueNonce().Value));
        ECParameters point = h.VerifierKey.ExportParameters(false);
        byte[] secret = rawPoint
            ? [0x04, .. point.Q.X!, .. point.Q.Y!]
            : Encoding.UTF8.GetBytes(h.VerifierJwk.ToJson());
        return signingInput + "." + Base64Url.Encode(HMACSHA256.HashData(secret, Encoding.ASCII.GetBytes(signingInput)));
    }

    /// <summary>An unsigned token (alg none, empty signature) with the trusted issuer.</summary>
    public static string AlgNone(BrokerHarness h)
    {
        var header = new JsonObject { ["alg"] = "none", ["typ"] = "JWT" };
        return Encode(header) + "." + Encode(h.Claims(h.Broker.IssueNonce().Value)) + ".";
    }

    /// <summary>The token with its signature replaced by r = s = 0 (CVE-2022-21449).</summary>
    public static string ZeroSignature(string token) => token[..(token.LastIndexOf('.') + 1)] + Base64Url.Encode(new byte[64]);

    /// <summary>The token with its signature replaced by r = n (the P-256 order), s = 1.</summary>
    public static string OrderSignature(string token)
    {
        byte[] signature = new byte[64];
        Convert.FromHexString("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551").CopyTo(signature, 0);
        signature[63] = 1;
        return token[..(token.LastIndexOf('.') + 1)] + Base64Url.Encode(signature);
    }

    public static string Sign(JsonObject header, JsonObject claims, ECDsa key)
    {
        string signingInput = Encode(header) + "." + Encode(claims);
        byte[] signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return signingInput + "." + Base64Url.Encode(signature);
    }

    private static string Encode(JsonObject json) => Base64Url.Encode(Encoding.UTF8.GetBytes(json.ToJsonString()));
}
