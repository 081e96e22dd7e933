using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

/// <summary>Released keys are standard compact JWEs: an independent JOSE implementation (jose-jwt) decrypts
/// them with the enclave's private key, for both key-management algorithms, and the broker wraps to the
/// FIRST "use":"enc" key of the token's top-level x-ms-runtime.keys as Key Vault does.</summary>
public sealed class JweInteropTests
{
    [Theory]
    [InlineData("P-256")]
    [InlineData("P-384")]
    public async Task Ecdh_es_a256kw_release_decrypts_with_jose_jwt(string curve)
    {
        using var harness = new BrokerHarness();
        byte[] dataKey = harness.RegisterDefaultKey();
        using ECDiffieHellman enclave = ECDiffieHellman.Create(curve == "P-256" ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384);
        Jwk encryptionKey = Jwk.FromEcPublic(enclave.ExportParameters(false), "enc-1", "enc");

        string jwe = await Release(harness, encryptionKey);

        AssertHeader(jwe, "ECDH-ES+A256KW");
        Assert.Equal(dataKey, Jose.JWT.DecodeBytes(jwe, enclave));
    }

    [Fact]
    public async Task Rsa_oaep_256_release_decrypts_with_jose_jwt()
    {
        using var harness = new BrokerHarness();
        byte[] dataKey = harness.RegisterDefaultKey();
        using RSA enclave = RSA.Create(2048);

        string jwe = await Release(harness, Jwk.FromRsaPublic(enclave.ExportParameters(false), "enc-rsa", "enc"));

        AssertHeader(jwe, "RSA-OAEP-256");
        Assert.Equal(dataKey, Jose.JWT.DecodeBytes(jwe, enclave));
    }

    [Fact]
    public async Task The_first_encryption_key_is_used_and_a_later_one_cannot_decrypt()
    {
        using var harness = new BrokerHarness();
        byte[] dataKey = harness.RegisterDefaultKey();
        using RSA first = RSA.Create(2048);
        using ECDiffieHellman second = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);

        string jwe = await Release(
            harness,
            Jwk.FromRsaPublic(first.ExportParameters(false), "enc-first", "enc"),
            Jwk.FromEcPublic(second.ExportParameters(false), "enc-second", "enc"));

        AssertHeader(jwe, "RSA-OAEP-256");
        Assert.Equal(dataKey, Jose.JWT.DecodeBytes(jwe, first));
        Assert.ThrowsAny<Exception>(() => Jose.JWT.DecodeBytes(jwe, second));
    }

    [Fact]
    public async Task A_tampered_release_does_not_decrypt_with_jose_jwt()
    {
        using var harness = new BrokerHarness();
        harness.RegisterDefaultKey();
        using ECDiffieHellman enclave = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string jwe = await Release(harness, Jwk.FromEcPublic(enclave.ExportParameters(false), "enc-1", "enc"));
        string[] parts = jwe.Split('.');
        byte[] ciphertext = Base64Url.Decode(parts[3]);
        ciphertext[0] ^= 1;
        parts[3] = Base64Url.Encode(ciphertext);

        Assert.ThrowsAny<Exception>(() => Jose.JWT.DecodeBytes(string.Join('.', parts), enclave));
    }

    private static async Task<string> Release(BrokerHarness harness, params Jwk[] encryptionKeys)
    {
        string token = harness.Token(c =>
        {
            var keys = new JsonArray(BrokerHarness.PublicSigningJwk(harness.EnclaveSigningKey).ToJsonObject());
            foreach (Jwk key in encryptionKeys)
            {
                keys.Add(key.ToJsonObject());
            }

            c["x-ms-runtime"]!["keys"] = keys;
        });
        ReleaseOutcome outcome = await harness.ReleaseAsync(token);
        Assert.True(outcome.IsGranted, outcome.Detail);
        return outcome.WrappedKey!;
    }

    private static void AssertHeader(string jwe, string alg)
    {
        Assert.Equal(5, jwe.Split('.').Length);
        IDictionary<string, object> header = Jose.JWT.Headers(jwe);
        Assert.Equal(alg, header["alg"]);
        Assert.Equal("A256GCM", header["enc"]);
    }
}
