using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.SecureAggregation;

namespace Enclave.SecureAggregation.Tests;

public sealed class AttestedParticipantTests
{
    private const string Issuer = "https://verifier.example";
    private const string Measurement = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    private static readonly ParticipantPolicy s_policy = new([Measurement], ["eu-west"], AllowSimulated: true);

    [Fact]
    public void A_participant_with_its_signing_and_agreement_keys_is_accepted()
    {
        using var verifier = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var signing = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        JsonObject claims = Claims(Jwk.FromEcPublic(signing.ExportParameters(false), null, "sig").ToJsonObject());

        AttestedParticipant participant = AttestedParticipant.FromToken(Jwt.Issue(claims, verifier, "v"), Validation(verifier), s_policy);

        Assert.Equal("token-1", participant.TokenId);
        Assert.True(participant.SigningKey.HasSameKey(Jwk.FromEcPublic(signing.ExportParameters(false))));
    }

    // Found by fuzzing: a non-string "use" threw InvalidOperationException instead of rejecting the participant.
    [Theory]
    [InlineData("5")]
    [InlineData("true")]
    [InlineData("{\"a\":1}")]
    [InlineData("null")]
    public void A_runtime_key_whose_use_is_not_a_string_is_rejected(string use)
    {
        using var verifier = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var signing = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        JsonObject key = Jwk.FromEcPublic(signing.ExportParameters(false)).ToJsonObject();
        key["use"] = JsonNode.Parse(use);

        ParticipantRejectedException error = Assert.Throws<ParticipantRejectedException>(
            () => AttestedParticipant.FromToken(Jwt.Issue(Claims(key), verifier, "v"), Validation(verifier), s_policy));

        Assert.Equal("RuntimeDataInvalid", error.Code);
    }

    private static JwtValidationParameters Validation(ECDsa verifier)
    {
        Jwk key = Jwk.FromEcPublic(verifier.ExportParameters(false), "v", "sig");
        return new JwtValidationParameters { ValidIssuers = [Issuer], KeyResolver = kid => kid == "v" ? key : null };
    }

    private static JsonObject Claims(JsonObject signingKey)
    {
        using var agreement = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new JsonObject
        {
            ["iss"] = Issuer,
            ["iat"] = now,
            ["exp"] = now + 600,
            ["jti"] = "token-1",
            ["x-enclave-region"] = "eu-west",
            ["x-ms-sgx-mrenclave"] = Measurement,
            ["x-ms-sgx-is-debuggable"] = false,
            ["x-ms-runtime"] = new JsonObject
            {
                ["keys"] = new JsonArray(signingKey),
                ["secagg"] = Jwk.FromEcPublic(agreement.ExportParameters(false)).ToJsonObject(),
            },
        };
    }
}
