using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Tests;

/// <summary>Runtime data as the enclave writes it (docs/formats.md section 3), from fresh keys.</summary>
internal static class RuntimeDataBuilder
{
    public static JsonObject CreateObject(string nonce = "nonce-0123456789abcdef", string round = "round-1")
    {
        using ECDiffieHellman enc = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using ECDsa sig = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using ECDiffieHellman secagg = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return new JsonObject
        {
            ["keys"] = new JsonArray(
                Jwk.FromEcPublic(enc.ExportParameters(false), "enc", "enc").ToJsonObject(),
                Jwk.FromEcPublic(sig.ExportParameters(false), "sig", "sig").ToJsonObject()),
            ["nonce"] = nonce,
            ["round"] = round,
            ["secagg"] = Jwk.FromEcPublic(secagg.ExportParameters(false)).ToJsonObject(),
        };
    }

    public static byte[] Create(string nonce = "nonce-0123456789abcdef") => Encoding.UTF8.GetBytes(CreateObject(nonce).ToJsonString());

    public static byte[] ToBytes(JsonObject json) => Encoding.UTF8.GetBytes(json.ToJsonString());
}
