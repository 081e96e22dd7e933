using System.Security.Cryptography;

namespace Enclave.Crypto.Tests;

public sealed class AesKeyWrapTests
{
    private const string Kek128 = "000102030405060708090A0B0C0D0E0F";
    private const string Kek192 = "000102030405060708090A0B0C0D0E0F1011121314151617";
    private const string Kek256 = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";
    private const string Key128 = "00112233445566778899AABBCCDDEEFF";
    private const string Key192 = "00112233445566778899AABBCCDDEEFF0001020304050607";
    private const string Key256 = "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F";

    // RFC 3394 section 4.1 to 4.6.
    public static TheoryData<string, string, string, string> Rfc3394Vectors => new()
    {
        { "4.1", Kek128, Key128, "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5" },
        { "4.2", Kek192, Key128, "96778B25AE6CA435F92B5B97C050AED2468AB8A17AD84E5D" },
        { "4.3", Kek256, Key128, "64E8C3F9CE0F5BA263E9777905818A2A93C8191E7D6E8AE7" },
        { "4.4", Kek192, Key192, "031D33264E15D33268F24EC260743EDCE1C6C7DDEE725A936BA814915C6762D2" },
        { "4.5", Kek256, Key192, "A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1" },
        { "4.6", Kek256, Key256, "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21" },
    };

    [Theory]
    [MemberData(nameof(Rfc3394Vectors))]
    public void MatchesRfc3394(string section, string kek, string keyData, string ciphertext)
    {
        Assert.NotEmpty(section);
        byte[] wrapped = AesKeyWrap.Wrap(TestSupport.Hex(kek), TestSupport.Hex(keyData));
        Assert.Equal(TestSupport.Hex(ciphertext), wrapped);
        Assert.Equal(TestSupport.Hex(keyData), AesKeyWrap.Unwrap(TestSupport.Hex(kek), wrapped));
    }

    [Fact]
    public void UnwrapDetectsAlteredData()
    {
        byte[] wrapped = TestSupport.Hex("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21");
        for (int i = 0; i < wrapped.Length; i++)
        {
            byte[] altered = (byte[])wrapped.Clone();
            altered[i] ^= 0x80;
            Assert.Throws<CryptographicException>(() => AesKeyWrap.Unwrap(TestSupport.Hex(Kek256), altered));
        }
    }

    [Fact]
    public void UnwrapDetectsWrongKek()
    {
        byte[] wrapped = AesKeyWrap.Wrap(TestSupport.Hex(Kek256), TestSupport.Hex(Key256));
        byte[] otherKek = TestSupport.Hex(Kek256);
        otherKek[0] ^= 1;
        Assert.Throws<CryptographicException>(() => AesKeyWrap.Unwrap(otherKek, wrapped));
    }

    [Fact]
    public void RejectsBadSizes()
    {
        Assert.Throws<ArgumentException>(() => AesKeyWrap.Wrap(new byte[15], new byte[16]));
        Assert.Throws<ArgumentException>(() => AesKeyWrap.Wrap(new byte[32], new byte[8]));
        Assert.Throws<ArgumentException>(() => AesKeyWrap.Wrap(new byte[32], new byte[20]));
        Assert.Throws<ArgumentException>(() => AesKeyWrap.Unwrap(new byte[32], new byte[16]));
        Assert.Throws<ArgumentException>(() => AesKeyWrap.Unwrap(new byte[32], new byte[25]));
    }
}
