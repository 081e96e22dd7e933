using System.Text;
using System.Text.Json;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Policy;
using Enclave.KeyBroker.Tokens;

namespace Enclave.Fuzz;

/// <summary>Targets for the key broker's parsers.</summary>
internal static class BrokerTargets
{
    /// <summary>A policy of the shape the broker registers for enclaves, evaluated against fuzzed claims.</summary>
    internal const string SamplePolicy =
        """
        {"version":"1.0.0","anyOf":[{"authority":"https://verifier.fuzz.invalid","allOf":[
          {"claim":"x-ms-attestation-type","equals":"simulated"},
          {"claim":"x-ms-sgx-mrenclave","equals":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"},
          {"claim":"x-ms-sgx-is-debuggable","equals":false},
          {"claim":"x-ms-sgx-svn","greaterOrEquals":1},
          {"anyOf":[{"claim":"x-ms-runtime.round","exists":true},{"claim":"x-ms-sgx-product-id","less":10}]}]}],
         "x-enclave-regions":["eu-west","us-east"]}
        """;

    private static readonly NonceStore s_nonces = NonceStore.CreateEphemeral(FuzzKeys.Time);

    private static readonly Lazy<TokenValidator> s_validator = new(() => new TokenValidator(
        new TokenValidatorOptions { TrustedIssuers = [FuzzKeys.Issuer], Audience = FuzzKeys.Audience, Time = FuzzKeys.Time },
        new StaticVerifierKeySource(FuzzKeys.Issuer, FuzzKeys.VerifierKeys),
        s_nonces));

    private static readonly Lazy<ReleasePolicy> s_policy = new(() => Enclave.KeyBroker.Policy.ReleasePolicy.Parse(SamplePolicy));

    public static void ReleasePolicy(ReadOnlySpan<byte> input)
    {
        try
        {
            Enclave.KeyBroker.Policy.ReleasePolicy.Parse(Encoding.UTF8.GetString(input));
        }
        catch (PolicyFormatException)
        {
        }
    }

    /// <summary>Input: policy JSON, a NUL byte, claims JSON. A valid policy must evaluate any claims object without throwing.</summary>
    public static void ReleasePolicyEvaluate(ReadOnlySpan<byte> input)
    {
        int split = input.IndexOf((byte)0);
        if (split < 0)
        {
            return;
        }

        ReleasePolicy policy;
        try
        {
            policy = Enclave.KeyBroker.Policy.ReleasePolicy.Parse(Encoding.UTF8.GetString(input[..split]));
        }
        catch (PolicyFormatException)
        {
            return;
        }

        JsonElement? claims = TryParseObject(input[(split + 1)..]);
        if (claims is JsonElement element)
        {
            policy.Evaluate(element);
        }
    }

    /// <summary>A compact token as the broker receives it from a host.</summary>
    public static void BrokerToken(ReadOnlySpan<byte> input) =>
        s_validator.Value.ValidateAsync(Encoding.UTF8.GetString(input)).AsTask().GetAwaiter().GetResult();

    /// <summary>Fuzzed claims signed by the trusted verifier key: everything after the signature check. The
    /// 43 characters after each <c>"nonce":"</c> are replaced by a nonce this broker issued, so claims reach the
    /// checks that follow the nonce's.</summary>
    public static void BrokerTokenClaims(ReadOnlySpan<byte> input)
    {
        byte[] claims = input.ToArray();
        ReadOnlySpan<byte> marker = "\"nonce\":\""u8;
        byte[] nonce = Encoding.ASCII.GetBytes(s_nonces.Issue(TimeSpan.FromMinutes(5)));
        for (int at = 0; ;)
        {
            int found = claims.AsSpan(at).IndexOf(marker);
            if (found < 0 || at + found + marker.Length + nonce.Length > claims.Length)
            {
                break;
            }

            at += found + marker.Length;
            nonce.CopyTo(claims, at);
            at += nonce.Length;
        }

        string token = FuzzKeys.SignCompact(FuzzKeys.TokenSigner, FuzzKeys.TokenKeyId, "JWT", claims);
        TokenValidationResult result = s_validator.Value.ValidateAsync(token).AsTask().GetAwaiter().GetResult();
        if (result.Token is { } validated)
        {
            EnclaveEncryptionKey.TryGet(validated.Claims, out _, out _);
            s_policy.Value.Evaluate(validated.ClaimsElement);
        }
    }

    public static void OwnerRequest(ReadOnlySpan<byte> input)
    {
        try
        {
            Enclave.KeyBroker.Keys.OwnerRequest.Parse(input.ToArray());
        }
        catch (FormatException)
        {
        }
    }

    private static JsonElement? TryParseObject(ReadOnlySpan<byte> utf8)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(utf8.ToArray());
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
