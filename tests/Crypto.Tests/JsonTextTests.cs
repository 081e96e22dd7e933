using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto.Tests;

/// <summary>JSON whose names or strings are invalid UTF-8 or hold unpaired surrogates (found by fuzzing).</summary>
public sealed class JsonTextTests
{
    public static TheoryData<byte[]> Unreadable => new()
    {
        Encoding.ASCII.GetBytes("{\"kid\":\"\\ud800\"}"),
        Encoding.ASCII.GetBytes("{\"\\udc00\":1}"),
        Encoding.ASCII.GetBytes("{\"a\":[{\"b\":\"x\\ud83d\"}]}"),
        new byte[] { (byte)'{', (byte)'"', (byte)'a', (byte)'"', (byte)':', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}' },
        new byte[] { (byte)'{', (byte)'"', 0xFF, (byte)'"', (byte)':', (byte)'1', (byte)'}' },
    };

    [Theory]
    [MemberData(nameof(Unreadable))]
    public void IsValid_is_false_for_unreadable_text(byte[] json)
    {
        using JsonDocument document = JsonDocument.Parse(json);

        Assert.False(JsonText.IsValid(document.RootElement));
    }

    [Fact]
    public void IsValid_is_true_for_ordinary_and_paired_text()
    {
        using JsonDocument document = JsonDocument.Parse("{\"k\\u00e9\":[\"\\ud83d\\ude00\",1,true,null,{\"x\":\"caf\u00e9\"}]}");

        Assert.True(JsonText.IsValid(document.RootElement));
        Assert.True(JsonText.IsValid(JsonNode.Parse(document.RootElement.GetRawText())));
    }

    [Fact]
    public void IsValid_checks_json_nodes()
    {
        Assert.False(JsonText.IsValid(JsonNode.Parse("{\"nonce\":\"\\ud800\"}")));
        Assert.False(JsonText.IsValid(JsonNode.Parse("{\"\\ud800\":1}")));
    }

    [Theory]
    [MemberData(nameof(Unreadable))]
    public void Jws_header_with_unreadable_text_is_malformed(byte[] header)
    {
        string compact = $"{Base64Url.Encode(header)}.{TestSupport.B64("{}")}.{Base64Url.Encode(new byte[64])}";

        JoseException error = Assert.Throws<JoseException>(() => Jws.Verify(compact, _ => null));

        Assert.Equal(JoseError.Malformed, error.Code);
    }

    [Theory]
    [MemberData(nameof(Unreadable))]
    public void Jwt_claims_with_unreadable_text_are_malformed(byte[] claims)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string token = Jws.Sign(claims, key, "k");
        Jwk jwk = Jwk.FromEcPublic(key.ExportParameters(false), "k");
        var parameters = new JwtValidationParameters { ValidIssuers = ["i"], KeyResolver = _ => jwk };

        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwt.Validate(token, parameters)).Code);
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwt.ReadUnverifiedClaims(token)).Code);
    }

    [Fact]
    public void Jwk_and_jwk_set_with_unpaired_surrogates_are_malformed()
    {
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwk.Parse("{\"kty\":\"EC\",\"kid\":\"\\ud800\"}")).Code);
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => JwkSet.Parse("{\"keys\":[{\"\\udfff\":1}]}")).Code);
    }
}
