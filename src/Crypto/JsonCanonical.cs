// The JSON Canonicalization Scheme (RFC 8785): members sorted by their names' UTF-16 code units, no whitespace,
// strings escaped as ECMAScript's JSON.stringify does, numbers in ECMAScript's Number-to-string form (shortest
// round-trip digits; 1e-5 is "0.00001", 1e21 is "1e+21"). Anyone with a JCS library gets the same bytes, so a hash
// over them (a training plan's, for instance) can be recomputed outside this product.
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

public static class JsonCanonical
{
    /// <summary>The RFC 8785 form of <paramref name="node"/> as UTF-8.</summary>
    /// <exception cref="ArgumentException">A number is not finite, or a value is not JSON.</exception>
    public static byte[] Serialize(JsonNode? node)
    {
        var text = new StringBuilder();
        Write(node, text);
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>ECMAScript's Number::toString of a finite double (ECMA-262, section 6.1.6.1.20), as RFC 8785 requires.</summary>
    public static string FormatNumber(double value)
    {
        if (!double.IsFinite(value))
        {
            throw new ArgumentException("JSON has no representation of NaN or infinity", nameof(value));
        }

        if (value == 0)
        {
            return "0";
        }

        // .NET's "R" gives the shortest digits that round-trip, as d[.ddd][E±x]; take digits and exponent from it.
        string r = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOf('E', StringComparison.Ordinal);
        string mantissa = e < 0 ? r : r[..e];
        int exponent = e < 0 ? 0 : int.Parse(r.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        int point = mantissa.IndexOf('.', StringComparison.Ordinal);
        string digits = point < 0 ? mantissa : mantissa.Remove(point, 1);
        int n = (point < 0 ? mantissa.Length : point) + exponent; // value = 0.digits × 10^n
        int leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        n -= leadingZeros;
        int k = digits.Length;

        string body;
        if (k <= n && n <= 21)
        {
            body = digits + new string('0', n - k);
        }
        else if (0 < n && n <= 21)
        {
            body = digits[..n] + "." + digits[n..];
        }
        else if (-6 < n && n <= 0)
        {
            body = "0." + new string('0', -n) + digits;
        }
        else
        {
            string exp = (n - 1 >= 0 ? "+" : "-") + Math.Abs(n - 1).ToString(CultureInfo.InvariantCulture);
            body = (k == 1 ? digits : digits[..1] + "." + digits[1..]) + "e" + exp;
        }

        return value < 0 ? "-" + body : body;
    }

    private static void Write(JsonNode? node, StringBuilder text)
    {
        switch (node)
        {
            case null:
                text.Append("null");
                break;
            case JsonObject o:
                text.Append('{');
                bool first = true;
                foreach (KeyValuePair<string, JsonNode?> member in o.OrderBy(m => m.Key, StringComparer.Ordinal))
                {
                    if (!first)
                    {
                        text.Append(',');
                    }

                    first = false;
                    WriteString(member.Key, text);
                    text.Append(':');
                    Write(member.Value, text);
                }

                text.Append('}');
                break;
            case JsonArray a:
                text.Append('[');
                for (int i = 0; i < a.Count; i++)
                {
                    if (i > 0)
                    {
                        text.Append(',');
                    }

                    Write(a[i], text);
                }

                text.Append(']');
                break;
            case JsonValue v:
                switch (v.GetValueKind())
                {
                    case JsonValueKind.String:
                        WriteString(v.GetValue<string>(), text);
                        break;
                    case JsonValueKind.Number:
                        text.Append(FormatNumber(AsDouble(v)));
                        break;
                    case JsonValueKind.True:
                        text.Append("true");
                        break;
                    case JsonValueKind.False:
                        text.Append("false");
                        break;
                    case JsonValueKind.Null:
                        text.Append("null");
                        break;
                    default:
                        throw new ArgumentException($"a {v.GetValueKind()} value is not JSON", nameof(node));
                }

                break;
        }
    }

    /// <summary>A number node as the double it denotes (RFC 8785 numbers are IEEE 754 doubles; an integer
    /// beyond 2^53 is refused rather than silently rounded).</summary>
    private static double AsDouble(JsonValue v)
    {
        // The node's own JSON text, whatever .NET type backs it (a parsed element, an int, a double, a ulong).
        string number = v.ToJsonString();
        double value = double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
        bool integer = number.AsSpan().IndexOfAny(".eE") < 0;
        if (integer && Math.Abs(value) >= 9_007_199_254_740_992d && value.ToString("F0", CultureInfo.InvariantCulture) != number.TrimStart('-'))
        {
            throw new ArgumentException($"the integer {number} has no exact IEEE 754 double (RFC 8785)", nameof(v));
        }

        return value;
    }

    private static void WriteString(string value, StringBuilder text)
    {
        text.Append('"');
        foreach (char c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case < ' ': text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"); break;
                default: text.Append(c); break;
            }
        }

        text.Append('"');
    }
}
