// Keys born inside the enclave for one round: a signing key for every message it sends and an encryption key the
// broker wraps the data key to. None is ever exported; only the public halves leave, inside the attested runtime
// data (docs/formats.md section 3). Secure aggregation makes its own per-round key pairs and advertises them
// signed by the signing key, so they need no place in the evidence.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.Privacy;

namespace Enclave.EnclaveApp.Keys;

internal sealed class RoundKeys : IDisposable
{
    private RoundKeys()
    {
        Signing = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Encryption = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
    }

    public ECDsa Signing { get; }

    public ECDiffieHellman Encryption { get; }

    public static RoundKeys Create() => new();

    /// <summary>The runtime data bytes that the evidence's report data binds: the public keys, the broker's nonce,
    /// the round id and, for a round, the specification's SHA-256 (lower-case hex), which the token then carries.</summary>
    /// <summary>The runtime data of docs/formats.md section 3: the keys, the broker's nonce, the round, and for a
    /// round its specification's hash and the training plan it trains by (hash, signer, purpose, and what the
    /// round spends of each dataset's privacy budget when the plan has record-level differential privacy).</summary>
    public byte[] CreateRuntimeData(string nonce, string roundId, string? specificationSha256 = null, SignedPlan? plan = null)
    {
        var runtime = new JsonObject
        {
            ["keys"] = new JsonArray(
                Jwk.FromEcPublic(Encryption.ExportParameters(false), kid: "enc", use: "enc").ToJsonObject(),
                Jwk.FromEcPublic(Signing.ExportParameters(false), kid: "sig", use: "sig").ToJsonObject()),
            ["nonce"] = nonce,
            ["round"] = roundId,
        };
        if (specificationSha256 is not null)
        {
            runtime["spec"] = specificationSha256;
        }

        if (plan is not null)
        {
            runtime["plan"] = plan.Plan.Sha256Hex;
            runtime["planSigner"] = plan.Signer;
            runtime["purpose"] = plan.Plan.Purpose;
            if (plan.Plan.Privacy is { } dp)
            {
                runtime["privacy"] = new JsonObject
                {
                    ["samplingRate"] = dp.SamplingRate,
                    ["noiseMultiplier"] = dp.NoiseMultiplier,
                    ["steps"] = dp.StepsPerRound,
                    ["delta"] = dp.Delta,
                };
            }
        }

        return Encoding.UTF8.GetBytes(runtime.ToJsonString());
    }

    public void Dispose()
    {
        Signing.Dispose();
        Encryption.Dispose();
    }
}
