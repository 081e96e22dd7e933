// Attestation and key release from inside the enclave: a fresh broker nonce, evidence binding the runtime data, a
// token checked against the verifier pinned in the image (never one the host names), then the data key unwrapped
// with the key born here. The host relays every message and can change none of them undetected.
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.EnclaveApp.Boundary;
using Enclave.EnclaveApp.Keys;
using Enclave.Privacy;
using Enclave.Protocol.Boundary;
using Google.Protobuf;

namespace Enclave.EnclaveApp.Attestation;

/// <summary>What the verifier attested about this enclave for one round or probe.</summary>
internal sealed record Attested(string Token, string TokenId, string Region, string Measurement);

internal sealed class EnclaveAttestor
{
    private readonly BoundaryChannel _channel;
    private readonly EnclaveConfiguration _configuration;
    private readonly IEvidenceProvider _evidence;
    private readonly byte[] _measurement;

    public EnclaveAttestor(BoundaryChannel channel, EnclaveConfiguration configuration, IEvidenceProvider evidence, byte[] measurement)
    {
        _channel = channel;
        _configuration = configuration;
        _evidence = evidence;
        _measurement = measurement;
    }

    // The token is checked against the verifier pinned in the image (issuer and keys); the host only relays it.
    public async Task<Attested> AttestAsync(RoundKeys keys, string roundId, string? specificationHex, SignedPlan? plan, CancellationToken cancellationToken)
    {
        OcallResult nonce = await _channel.CallAsync(new Ocall { GetNonce = new GetNonceCall() }, cancellationToken).ConfigureAwait(false);
        byte[] runtimeData = keys.CreateRuntimeData(nonce.Nonce, roundId, specificationHex, plan);
        byte[] evidence = _evidence.GetEvidence(SHA512.HashData(runtimeData));
        OcallResult token = await _channel.CallAsync(
            new Ocall { Attest = new AttestCall { EvidenceFormat = _evidence.Format, Evidence = ByteString.CopyFrom(evidence), RuntimeData = ByteString.CopyFrom(runtimeData) } },
            cancellationToken).ConfigureAwait(false);

        JwtValidationParameters validation = _configuration.TokenValidation();
        JsonObject claims;
        try
        {
            claims = Jwt.Validate(token.Token, validation).Claims;
        }
        catch (JoseException ex)
        {
            throw new EnclaveFailure("TokenInvalid", $"the token does not validate against the verifier pinned in this image ({ex.Code}): {ex.Message}");
        }

        // The token must describe this enclave: its own measurement and exactly the runtime data it sent.
        string measurement = claims["x-ms-sgx-mrenclave"]?.GetValue<string>() ?? string.Empty;
        if (!string.Equals(measurement, Convert.ToHexStringLower(_measurement), StringComparison.Ordinal))
        {
            throw new EnclaveFailure("TokenMismatch", "the token does not carry this enclave's measurement");
        }

        if (claims["x-ms-runtime"] is not JsonObject runtime || !JsonNode.DeepEquals(runtime, JsonNode.Parse(runtimeData)))
        {
            throw new EnclaveFailure("TokenMismatch", "the token does not bind this enclave's runtime data");
        }

        string region = claims["x-enclave-region"]?.GetValue<string>() ?? throw new EnclaveFailure("TokenMismatch", "the token has no region");
        string tokenId = claims["jti"]?.GetValue<string>() ?? throw new EnclaveFailure("TokenMismatch", "the token has no id");
        return new Attested(token.Token, tokenId, region, measurement);
    }

    public async Task<(byte[] Key, ReleasedKey Released)> ObtainDataKeyAsync(string keyName, string token, RoundKeys keys, CancellationToken cancellationToken)
    {
        OcallResult result = await _channel.CallAsync(new Ocall { ReleaseKey = new ReleaseKeyCall { KeyName = keyName, AttestationToken = token } }, cancellationToken).ConfigureAwait(false);
        byte[] key;
        try
        {
            key = Jwe.Decrypt(result.ReleasedKey.WrappedKey, keys.Encryption);
        }
        catch (JoseException ex)
        {
            throw new EnclaveFailure("KeyUnwrapFailed", $"the released key does not decrypt with this enclave's key: {ex.Message}");
        }

        if (key.Length != 32)
        {
            CryptographicOperations.ZeroMemory(key);
            throw new EnclaveFailure("KeyUnwrapFailed", $"the released key is {key.Length} bytes, not 32");
        }

        return (key, result.ReleasedKey);
    }
}
