// The one compact-JWS reader: each way a token can be unreadable gives its own fault, part and offset; the
// payload and signature are decoded only when asked for; signatures verify or fail with a status.

using System.Security.Cryptography;
using System.Text;

namespace Enclave.Crypto.Tests;

public sealed class CompactJwsTests
{
    private static readonly string s_header = TestSupport.B64("""{"alg":"ES256","kid":"k1"}""");
    private static readonly string s_payload = TestSupport.B64("""{"iss":"i"}""");

    [Theory]
    [InlineData("abc", JwsFormatFault.TooFewParts, "token")]
    [InlineData("abc.def", JwsFormatFault.TooFewParts, "token")]
    [InlineData("a.b.c.d", JwsFormatFault.TooManyParts, "token")]
    [InlineData(".e30.", JwsFormatFault.EmptyHeader, "header")]
    [InlineData("e30=.e30.", JwsFormatFault.InvalidBase64Url, "header")]
    [InlineData("e3 0.e30.", JwsFormatFault.InvalidBase64Url, "header")]
    [InlineData("e31.e30.", JwsFormatFault.InvalidBase64Url, "header")]
    [InlineData("bnVsbA.e30.", JwsFormatFault.NotAnObject, "header")]
    [InlineData("W10.e30.", JwsFormatFault.NotAnObject, "header")]
    [InlineData("eyJhIjoxLCJhIjoyfQ.e30.", JwsFormatFault.InvalidJson, "header")]
    public void Unreadable_tokens_name_their_fault(string token, JwsFormatFault fault, string part)
    {
        JoseException e = Assert.Throws<JoseException>(() => CompactJws.Parse(token));
        Assert.Equal(JoseError.Malformed, e.Code);
        Assert.Equal(fault, e.FormatError!.Fault);
        Assert.Equal(part, e.FormatError.Part);
        Assert.Equal(e.FormatError, Assert.Throws<JoseException>(() => CompactJws.Parse(Encoding.ASCII.GetBytes(token))).FormatError);
    }

    [Fact]
    public void Too_long_tokens_are_refused_before_splitting()
    {
        string token = new('a', CompactJws.MaxLength + 1);
        Assert.Equal(JwsFormatFault.TooLong, Assert.Throws<JoseException>(() => CompactJws.Parse(token)).FormatError!.Fault);
    }

    [Fact]
    public void Headers_nest_at_most_sixteen_deep()
    {
        string Nested(int depth) => string.Concat(Enumerable.Repeat("""{"a":""", depth)) + "1" + new string('}', depth);
        Assert.Equal(1, CompactJws.Parse(TestSupport.B64(Nested(16)) + "..").Header.Innermost());
        JoseException e = Assert.Throws<JoseException>(() => CompactJws.Parse(TestSupport.B64(Nested(17)) + ".."));
        Assert.Equal(JwsFormatFault.InvalidJson, e.FormatError!.Fault);
    }

    [Fact]
    public void Payload_and_signature_are_decoded_only_when_asked_for()
    {
        CompactJws jws = CompactJws.Parse($"{s_header}.not+base64.also=bad");
        Assert.Equal("ES256", jws.GetHeaderString("alg"));
        Assert.Equal("k1", jws.GetHeaderString("kid"));
        JoseException payload = Assert.Throws<JoseException>(() => jws.Payload);
        Assert.Equal(("payload", s_header.Length + 1), (payload.FormatError!.Part, payload.FormatError.Offset));
        Assert.Equal("signature", Assert.Throws<JoseException>(() => jws.Signature).FormatError!.Part);
    }

    [Fact]
    public void Header_members_of_another_type_are_reported()
    {
        CompactJws jws = CompactJws.Parse(TestSupport.B64("""{"alg":5}""") + "..");
        Assert.False(jws.TryGetHeaderString("alg", out _));
        Assert.True(jws.TryGetHeaderString("kid", out string? kid));
        Assert.Null(kid);
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => jws.GetHeaderString("alg")).Code);
    }

    [Fact]
    public void Payload_object_has_the_header_rules()
    {
        Assert.Equal("i", CompactJws.Parse($"{s_header}.{s_payload}.").ParsePayloadObject().GetProperty("iss").GetString());
        string duplicate = TestSupport.B64("""{"iss":"i","\u0069ss":"j"}""");
        JoseException e = Assert.Throws<JoseException>(() => CompactJws.Parse($"{s_header}.{duplicate}.").ParsePayloadObject());
        Assert.Equal((JwsFormatFault.InvalidJson, "payload"), (e.FormatError!.Fault, e.FormatError.Part));
        string surrogate = TestSupport.B64("""{"iss":"\ud800"}""");
        Assert.Throws<JoseException>(() => CompactJws.Parse($"{s_header}.{surrogate}.").ParsePayloadObject());
    }

    [Fact]
    public void Ecdsa_signatures_verify_and_report_each_fault()
    {
        using ECDsa key = TestSupport.NewP256();
        string token = TestSupport.SignRaw("""{"alg":"ES256"}""", """{"iss":"i"}""", key);
        Assert.Equal(JwsSignatureStatus.Valid, CompactJws.Parse(token).VerifySignature("ES256", key));
        Assert.Equal(JwsSignatureStatus.Invalid, CompactJws.Parse(TestSupport.FlipBit(token, 2, 5)).VerifySignature("ES256", key));
        Assert.Equal(JwsSignatureStatus.ScalarOutOfRange, CompactJws.Parse(TestSupport.WithSignature(token, new byte[64])).VerifySignature("ES256", key));
        Assert.Equal(JwsSignatureStatus.WrongLength, CompactJws.Parse(TestSupport.WithSignature(token, new byte[63])).VerifySignature("ES256", key));
        Assert.Equal(JwsSignatureStatus.WrongKeyType, CompactJws.Parse(token).VerifySignature("RS256", key));
        Assert.Equal(JwsSignatureStatus.UnsupportedAlgorithm, CompactJws.Parse(token).VerifySignature("HS256", key));
    }

    [Fact]
    public void Rsa_signatures_verify_with_their_padding()
    {
        RSA key = TestSupport.Rsa2048;
        string input = $"{TestSupport.B64("""{"alg":"PS256"}""")}.{s_payload}";
        byte[] signature = key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        CompactJws jws = CompactJws.Parse($"{input}.{Base64Url.Encode(signature)}");
        Assert.Equal(JwsSignatureStatus.Valid, jws.VerifySignature("PS256", key));
        Assert.Equal(JwsSignatureStatus.Invalid, jws.VerifySignature("RS256", key));
        Assert.Equal(JwsSignatureStatus.WrongLength, CompactJws.Parse($"{input}.{Base64Url.Encode(signature[1..])}").VerifySignature("PS256", key));
    }

    [Theory]
    [InlineData(64, true)]
    [InlineData(96, true)]
    [InlineData(65, false)]
    public void Zero_scalars_are_out_of_range_for_ecdsa_lengths(int length, bool outOfRange)
    {
        Assert.Equal(outOfRange, CompactJws.IsEcdsaScalarOutOfRange(new byte[length]));
    }
}

internal static class JsonElementTestExtensions
{
    /// <summary>Descends the single-member chain {"a":{"a":...1}} and returns the innermost number.</summary>
    public static int Innermost(this System.Text.Json.JsonElement element)
    {
        while (element.ValueKind == System.Text.Json.JsonValueKind.Object)
        {
            element = element.GetProperty("a");
        }

        return element.GetInt32();
    }
}
