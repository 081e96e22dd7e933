using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.Crypto.Tests;

public sealed class JsonCanonicalTests
{
    // RFC 8785 appendix B (IEEE 754 value, its ECMAScript text) and ECMA-262's boundaries of the plain forms.
    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(-5e-324, "-5e-324")]
    [InlineData(1.7976931348623157e308, "1.7976931348623157e+308")]
    [InlineData(9007199254740992.0, "9007199254740992")]
    [InlineData(-9007199254740992.0, "-9007199254740992")]
    [InlineData(295147905179352830000.0, "295147905179352830000")]
    [InlineData(1e21, "1e+21")]
    [InlineData(1e23, "1e+23")]
    [InlineData(0.000001, "0.000001")]
    [InlineData(1e-7, "1e-7")]
    [InlineData(1e-5, "0.00001")]
    [InlineData(4.5, "4.5")]
    [InlineData(0.002, "0.002")]
    [InlineData(333333333.33333329, "333333333.3333333")]
    [InlineData(0.05, "0.05")]
    [InlineData(1.1, "1.1")]
    [InlineData(100, "100")]
    [InlineData(123e-20, "1.23e-18")]
    public void Numbers_are_written_as_ecmascript_prints_them(double value, string expected)
    {
        Assert.Equal(expected, JsonCanonical.FormatNumber(value));
    }

    [Fact]
    public void Negative_zero_is_zero()
    {
        Assert.Equal("0", JsonCanonical.FormatNumber(-0.0));
    }

    [Fact]
    public void Members_are_sorted_by_utf16_code_units_and_whitespace_is_gone()
    {
        JsonNode node = JsonNode.Parse("""{ "b": [1, 2.50, {"z": true, "a": null}], "a": "x\n\u0001\"\\é", "\u20ac": 1, "\ud83d\ude00": 2, "A": 1e-7 }""")!;

        string canonical = Encoding.UTF8.GetString(JsonCanonical.Serialize(node));

        Assert.Equal("{\"A\":1e-7,\"a\":\"x\\n\\u0001\\\"\\\\é\",\"b\":[1,2.5,{\"a\":null,\"z\":true}],\"\u20ac\":1,\"\ud83d\ude00\":2}", canonical);
    }

    [Fact]
    public void Values_built_in_code_are_written_like_parsed_ones()
    {
        var built = new JsonObject { ["i"] = 3, ["d"] = 0.25, ["u"] = 7UL, ["l"] = -2L, ["s"] = "v" };
        JsonNode parsed = JsonNode.Parse("{\"i\":3,\"d\":0.25,\"u\":7,\"l\":-2,\"s\":\"v\"}")!;

        Assert.Equal(JsonCanonical.Serialize(parsed), JsonCanonical.Serialize(built));
        Assert.Equal("{\"d\":0.25,\"i\":3,\"l\":-2,\"s\":\"v\",\"u\":7}", Encoding.UTF8.GetString(JsonCanonical.Serialize(built)));
    }

    [Fact]
    public void An_integer_no_double_holds_exactly_is_refused()
    {
        Assert.Throws<ArgumentException>(() => JsonCanonical.Serialize(JsonNode.Parse("{\"n\":9007199254740993}")));
        Assert.Throws<ArgumentException>(() => JsonCanonical.FormatNumber(double.NaN));
        Assert.Equal("9007199254740992", Encoding.UTF8.GetString(JsonCanonical.Serialize(JsonValue.Create(9007199254740992UL))));
    }
}
