namespace Enclave.Crypto.Tests;

public sealed class Base64UrlTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    [InlineData(1000)]
    public void RoundTripsAndMatchesStandardBase64(int length)
    {
        byte[] data = new byte[length];
        new Random(length).NextBytes(data);

        string encoded = Base64Url.Encode(data);

        string expected = Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Equal(expected, encoded);
        Assert.Equal(encoded.Length, Base64Url.GetEncodedLength(length));
        Assert.Equal(data, Base64Url.Decode(encoded));
        Assert.True(Base64Url.TryDecode(encoded, out byte[] decoded));
        Assert.Equal(data, decoded);
    }

    [Fact]
    public void EncodesUrlAlphabet()
    {
        Assert.Equal("-_8", Base64Url.Encode([0xFB, 0xFF]));
        Assert.Equal("_--8", Base64Url.Encode([0xFF, 0xEF, 0xBC]));
    }

    [Theory]
    [InlineData("QQ==")]
    [InlineData("QQ=")]
    [InlineData("QUJD=")]
    [InlineData("ab+c")]
    [InlineData("ab/c")]
    [InlineData("ab c")]
    [InlineData(" abc")]
    [InlineData("abc\n")]
    [InlineData("a")]
    [InlineData("abcde")]
    [InlineData("QR")]
    [InlineData("QUJ")]
    [InlineData("ab.c")]
    [InlineData("abé")]
    [InlineData("ab\0c")]
    public void RejectsInvalidText(string text)
    {
        Assert.Throws<FormatException>(() => Base64Url.Decode(text));
        Assert.False(Base64Url.TryDecode(text, out byte[] data));
        Assert.Empty(data);
    }

    [Fact]
    public void DecodesEmptyText()
    {
        Assert.Empty(Base64Url.Decode(string.Empty));
    }
}
