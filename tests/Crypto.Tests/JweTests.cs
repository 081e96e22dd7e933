using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Enclave.Crypto.Tests;

public sealed class JweTests
{
    // RFC 7518 appendix C: Alice's ephemeral key and Bob's key (P-256), and the expected shared secret Z.
    private const string AliceX = "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0";
    private const string AliceY = "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps";
    private const string AliceD = "0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo";
    private const string BobX = "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ";
    private const string BobY = "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck";
    private const string BobD = "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw";

    private static readonly byte[] s_appendixCZ =
    [
        158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156,
        251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
    ];

    private static readonly byte[] s_secret = Encoding.UTF8.GetBytes("data key: 0123456789abcdef0123456789abcdef");

    [Theory]
    [InlineData(256)]
    [InlineData(384)]
    public void EcdhRoundTrip(int bits)
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(bits == 256 ? ECCurve.NamedCurves.nistP256 : ECCurve.NamedCurves.nistP384);
        Jwk jwk = Jwk.FromEcPublic(recipient.ExportParameters(false), "enc-1", "enc");

        string jwe = Jwe.Encrypt(s_secret, jwk);

        JsonObject header = Header(jwe);
        Assert.Equal("ECDH-ES+A256KW", header["alg"]!.GetValue<string>());
        Assert.Equal("A256GCM", header["enc"]!.GetValue<string>());
        Assert.Equal("enc-1", header["kid"]!.GetValue<string>());
        Assert.Equal($"P-{bits}", header["epk"]!["crv"]!.GetValue<string>());
        Assert.Null(header["epk"]!["d"]);
        Assert.Equal(40, Base64Url.Decode(jwe.Split('.')[1]).Length);
        Assert.Equal(s_secret, Jwe.Decrypt(jwe, recipient));
    }

    [Fact]
    public void RsaRoundTrip()
    {
        Jwk jwk = Jwk.FromRsaPublic(TestSupport.Rsa2048.ExportParameters(false), "rsa-enc");

        string jwe = Jwe.Encrypt(s_secret, jwk);

        JsonObject header = Header(jwe);
        Assert.Equal("RSA-OAEP-256", header["alg"]!.GetValue<string>());
        Assert.Equal("A256GCM", header["enc"]!.GetValue<string>());
        Assert.Equal("rsa-enc", header["kid"]!.GetValue<string>());
        Assert.Equal(256, Base64Url.Decode(jwe.Split('.')[1]).Length);
        Assert.Equal(s_secret, Jwe.Decrypt(jwe, TestSupport.Rsa2048));
    }

    [Fact]
    public void RoundTripsEmptyAndLargePlaintexts()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        Jwk jwk = Jwk.FromEcPublic(recipient.ExportParameters(false));
        byte[] large = RandomNumberGenerator.GetBytes(Jwe.MaxPlaintextLength);

        Assert.Empty(Jwe.Decrypt(Jwe.Encrypt([], jwk), recipient));
        Assert.Equal(large, Jwe.Decrypt(Jwe.Encrypt(large, jwk), recipient));
        Assert.Throws<ArgumentException>(() => Jwe.Encrypt(new byte[Jwe.MaxPlaintextLength + 1], jwk));
        Assert.Null(Header(Jwe.Encrypt([], jwk))["kid"]);
    }

    [Fact]
    public void AppendixCSharedSecretAndConcatKdf()
    {
        using ECDiffieHellman bob = ECDiffieHellman.Create(EcParameters(BobX, BobY, BobD));
        using ECDiffieHellman alice = ECDiffieHellman.Create(EcParameters(AliceX, AliceY, null));

        byte[] z = bob.DeriveRawSecretAgreement(alice.PublicKey);
        Assert.Equal(s_appendixCZ, z);

        byte[] derived = new byte[16];
        ConcatKdf.DeriveKey(z, "A128GCM", "Alice"u8, "Bob"u8, derived);
        Assert.Equal("VqqN6vgjbSBcIijNcacQGg", Base64Url.Encode(derived));
    }

    // A JWE assembled by hand from the appendix C keys (Alice's key as epk, apu "Alice", apv "Bob"),
    // a fixed CEK and IV, with the KEK from the Concat KDF for "ECDH-ES+A256KW".
    [Fact]
    public void DecryptsHandBuiltJweFromAppendixCKeys()
    {
        byte[] cek = TestSupport.Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
        byte[] iv = TestSupport.Hex("e3c5ac4cd5a8f2c3a0f1b2d4");
        string header = $$$"""{"alg":"ECDH-ES+A256KW","enc":"A256GCM","apu":"QWxpY2U","apv":"Qm9i","epk":{"kty":"EC","crv":"P-256","x":"{{{AliceX}}}","y":"{{{AliceY}}}"}}""";
        string encodedHeader = TestSupport.B64(header);

        byte[] kek = new byte[32];
        ConcatKdf.DeriveKey(s_appendixCZ, "ECDH-ES+A256KW", "Alice"u8, "Bob"u8, kek);
        byte[] wrapped = AesKeyWrap.Wrap(kek, cek);
        byte[] plaintext = Encoding.UTF8.GetBytes("Live long and prosper.");
        byte[] ciphertext = new byte[plaintext.Length];
        byte[] tag = new byte[16];
        using (var gcm = new AesGcm(cek, 16))
        {
            gcm.Encrypt(iv, plaintext, ciphertext, tag, Encoding.ASCII.GetBytes(encodedHeader));
        }

        string jwe = string.Join('.', encodedHeader, Base64Url.Encode(wrapped), Base64Url.Encode(iv), Base64Url.Encode(ciphertext), Base64Url.Encode(tag));
        using ECDiffieHellman bob = ECDiffieHellman.Create(EcParameters(BobX, BobY, BobD));

        Assert.Equal(plaintext, Jwe.Decrypt(jwe, bob));

        string withoutPartyInfo = TestSupport.ReplacePart(jwe, 0, TestSupport.B64(header.Replace("\"apu\":\"QWxpY2U\",\"apv\":\"Qm9i\",", string.Empty, StringComparison.Ordinal)));
        Assert.Equal(JoseError.DecryptionFailed, Assert.Throws<JoseException>(() => Jwe.Decrypt(withoutPartyInfo, bob)).Code);
    }

    [Fact]
    public void EncryptWithFixedEphemeralKeyIsDeterministicAndDecrypts()
    {
        byte[] cek = RandomNumberGenerator.GetBytes(32);
        byte[] iv = RandomNumberGenerator.GetBytes(12);
        Jwk bobPublic = Jwk.Parse($$"""{"kty":"EC","crv":"P-256","x":"{{BobX}}","y":"{{BobY}}","kid":"bob"}""");
        using ECDiffieHellman alice = ECDiffieHellman.Create(EcParameters(AliceX, AliceY, AliceD));

        string first = Jwe.EncryptEcdhCore("hello"u8, bobPublic, alice, cek, iv);
        string second = Jwe.EncryptEcdhCore("hello"u8, bobPublic, alice, cek, iv);

        Assert.Equal(first, second);
        Assert.Equal(AliceX, Header(first)["epk"]!["x"]!.GetValue<string>());
        byte[] kek = new byte[32];
        ConcatKdf.DeriveKey(s_appendixCZ, "ECDH-ES+A256KW", default, default, kek);
        Assert.Equal(AesKeyWrap.Wrap(kek, cek), Base64Url.Decode(first.Split('.')[1]));
        using ECDiffieHellman bob = ECDiffieHellman.Create(EcParameters(BobX, BobY, BobD));
        Assert.Equal("hello"u8.ToArray(), Jwe.Decrypt(first, bob));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RejectsTamperedEcdhParts(int part)
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(recipient.ExportParameters(false)));

        string tampered = TestSupport.FlipBit(jwe, part, 0);

        JoseException ex = Assert.Throws<JoseException>(() => Jwe.Decrypt(tampered, recipient));
        Assert.Equal(JoseError.DecryptionFailed, ex.Code);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RejectsTamperedRsaParts(int part)
    {
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromRsaPublic(TestSupport.Rsa2048.ExportParameters(false)));

        string tampered = TestSupport.FlipBit(jwe, part, 5);

        JoseException ex = Assert.Throws<JoseException>(() => Jwe.Decrypt(tampered, TestSupport.Rsa2048));
        Assert.Equal(JoseError.DecryptionFailed, ex.Code);
    }

    [Fact]
    public void RejectsTamperedProtectedHeader()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(recipient.ExportParameters(false), "k1"));
        JsonObject header = Header(jwe);
        header["kid"] = "k2";

        string tampered = TestSupport.ReplacePart(jwe, 0, TestSupport.B64(header.ToJsonString()));

        Assert.Equal(JoseError.DecryptionFailed, Assert.Throws<JoseException>(() => Jwe.Decrypt(tampered, recipient)).Code);
        string rsaJwe = Jwe.Encrypt(s_secret, Jwk.FromRsaPublic(TestSupport.Rsa2048.ExportParameters(false), "k1"));
        JsonObject rsaHeader = Header(rsaJwe);
        rsaHeader["kid"] = "k2";
        Assert.Equal(
            JoseError.DecryptionFailed,
            Assert.Throws<JoseException>(() => Jwe.Decrypt(TestSupport.ReplacePart(rsaJwe, 0, TestSupport.B64(rsaHeader.ToJsonString())), TestSupport.Rsa2048)).Code);
    }

    [Fact]
    public void RejectsWrongRecipientKey()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using ECDiffieHellman other = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(recipient.ExportParameters(false)));

        Assert.Equal(JoseError.DecryptionFailed, Assert.Throws<JoseException>(() => Jwe.Decrypt(jwe, other)).Code);
    }

    [Fact]
    public void RejectsEpkOnAnotherCurve()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using ECDiffieHellman p384 = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP384);
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(p384.ExportParameters(false)));

        JoseException ex = Assert.Throws<JoseException>(() => Jwe.Decrypt(jwe, recipient));
        Assert.Equal(JoseError.DecryptionFailed, ex.Code);
        Assert.Contains("curve", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsEpkNotOnTheCurve()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(recipient.ExportParameters(false)));
        JsonObject header = Header(jwe);
        byte[] y = Base64Url.Decode(header["epk"]!["y"]!.GetValue<string>());
        y[^1] ^= 1;
        header["epk"]!["y"] = Base64Url.Encode(y);

        string tampered = TestSupport.ReplacePart(jwe, 0, TestSupport.B64(header.ToJsonString()));

        Assert.Equal(JoseError.DecryptionFailed, Assert.Throws<JoseException>(() => Jwe.Decrypt(tampered, recipient)).Code);
    }

    [Fact]
    public void RejectsAlgorithmForTheOtherKeyType()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string ecJwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(recipient.ExportParameters(false)));
        string rsaJwe = Jwe.Encrypt(s_secret, Jwk.FromRsaPublic(TestSupport.Rsa2048.ExportParameters(false)));

        Assert.Equal(JoseError.UnsupportedAlgorithm, Assert.Throws<JoseException>(() => Jwe.Decrypt(ecJwe, TestSupport.Rsa2048)).Code);
        Assert.Equal(JoseError.UnsupportedAlgorithm, Assert.Throws<JoseException>(() => Jwe.Decrypt(rsaJwe, recipient)).Code);
    }

    [Theory]
    [InlineData("enc", "A128GCM", JoseError.UnsupportedAlgorithm)]
    [InlineData("enc", "A256CBC-HS512", JoseError.UnsupportedAlgorithm)]
    [InlineData("alg", "dir", JoseError.UnsupportedAlgorithm)]
    [InlineData("alg", "ECDH-ES", JoseError.UnsupportedAlgorithm)]
    [InlineData("zip", "DEF", JoseError.UnsupportedAlgorithm)]
    [InlineData("jku", "https://attacker.example", JoseError.ForbiddenHeader)]
    public void RejectsUnsupportedHeaders(string name, string value, JoseError expected)
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(recipient.ExportParameters(false)));
        JsonObject header = Header(jwe);
        header[name] = value;

        string altered = TestSupport.ReplacePart(jwe, 0, TestSupport.B64(header.ToJsonString()));

        Assert.Equal(expected, Assert.Throws<JoseException>(() => Jwe.Decrypt(altered, recipient)).Code);
    }

    [Theory]
    [InlineData("a.b.c.d")]
    [InlineData("a.b.c.d.e.f")]
    [InlineData("....")]
    public void RejectsMalformedCompact(string compact)
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwe.Decrypt(compact, recipient)).Code);
    }

    [Fact]
    public void RejectsWrongIvAndTagLengths()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(recipient.ExportParameters(false)));

        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwe.Decrypt(TestSupport.ReplacePart(jwe, 2, Base64Url.Encode(new byte[16])), recipient)).Code);
        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwe.Decrypt(TestSupport.ReplacePart(jwe, 4, Base64Url.Encode(new byte[12])), recipient)).Code);
    }

    [Fact]
    public void RejectsOversizedCompact()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        string jwe = Jwe.Encrypt(s_secret, Jwk.FromEcPublic(recipient.ExportParameters(false)));
        string oversized = TestSupport.ReplacePart(jwe, 3, Base64Url.Encode(new byte[800 * 1024]));

        Assert.Equal(JoseError.Malformed, Assert.Throws<JoseException>(() => Jwe.Decrypt(oversized, recipient)).Code);
    }

    [Fact]
    public void RefusesSigningKeyAsRecipient()
    {
        using ECDiffieHellman recipient = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        Jwk jwk = Jwk.FromEcPublic(recipient.ExportParameters(false), "s", "sig");

        Assert.Equal(JoseError.UnsupportedKey, Assert.Throws<JoseException>(() => Jwe.Encrypt(s_secret, jwk)).Code);
    }

    private static JsonObject Header(string jwe) =>
        JsonNode.Parse(Base64Url.Decode(jwe.Split('.')[0]))!.AsObject();

    private static ECParameters EcParameters(string x, string y, string? d) => new()
    {
        Curve = ECCurve.NamedCurves.nistP256,
        Q = new ECPoint { X = Base64Url.Decode(x), Y = Base64Url.Decode(y) },
        D = d is null ? null : Base64Url.Decode(d),
    };
}
