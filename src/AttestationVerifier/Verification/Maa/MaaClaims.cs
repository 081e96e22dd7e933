// Azure Attestation token claims as the verifier reports them: every header member and claim flattened to a
// dotted path, and the normalised identity for appraisal (see docs/verifiers/maa.md).
using System.Text.Json;
using Enclave.AttestationVerifier.Evidence.Maa;

namespace Enclave.AttestationVerifier.Verification.Maa;

/// <summary>Flattened claims and the normalised identity of an Azure Attestation token.</summary>
internal static class MaaClaims
{
    public static Dictionary<string, string> Flatten(UnverifiedMaaToken token)
    {
        Dictionary<string, string> claims = new(StringComparer.Ordinal);
        Flatten(token.Header, "header", claims);
        Flatten(token.Claims, "claims", claims);
        if (token.Claims.TryGetProperty("iss", out JsonElement iss) && iss.ValueKind == JsonValueKind.String)
        {
            claims["issuer"] = iss.GetString()!;
        }

        return claims;
    }

    private static void Flatten(JsonElement element, string path, Dictionary<string, string> claims)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    Flatten(property.Value, $"{path}.{property.Name}", claims);
                }

                break;
            case JsonValueKind.Array:
                int index = 0;
                foreach (JsonElement item in element.EnumerateArray())
                {
                    Flatten(item, $"{path}.{index++}", claims);
                }

                break;
            case JsonValueKind.String:
                claims[path] = element.GetString()!;
                break;
            case JsonValueKind.True:
                claims[path] = "true";
                break;
            case JsonValueKind.False:
                claims[path] = "false";
                break;
            case JsonValueKind.Null:
                claims[path] = "null";
                break;
            default:
                claims[path] = element.GetRawText();
                break;
        }
    }

    // Normalised identity. Debug is fail-closed: true unless a known is-debuggable claim (SGX, SEV-SNP at the
    // top level or under x-ms-isolation-tee, TDX tdx_td_attributes_debug) is present and every one is false.
    public static HardwareIdentity Identity(UnverifiedMaaToken token)
    {
        JsonElement claims = token.Claims;
        JsonElement? tee = claims.TryGetProperty("x-ms-isolation-tee", out JsonElement isolation) && isolation.ValueKind == JsonValueKind.Object
            ? isolation
            : null;
        bool? debug = null;
        foreach (string name in (string[])["x-ms-sgx-is-debuggable", "x-ms-sevsnpvm-is-debuggable", "tdx_td_attributes_debug"])
        {
            JsonElement[] sources = tee is { } t ? [claims, t] : [claims];
            foreach (JsonElement source in sources)
            {
                if (source.TryGetProperty(name, out JsonElement value))
                {
                    debug = (debug ?? false) | (value.ValueKind != JsonValueKind.False);
                }
            }
        }

        Dictionary<string, string> measurements = new(StringComparer.Ordinal);
        AddString(measurements, "mr_enclave", Find(claims, tee, "x-ms-sgx-mrenclave"));
        AddString(measurements, "measurement", Find(claims, tee, "x-ms-sevsnpvm-launchmeasurement"));
        AddString(measurements, "host_data", Find(claims, tee, "x-ms-sevsnpvm-hostdata"));
        AddString(measurements, "mr_td", Find(claims, tee, "tdx_mrtd"));
        string? signer = Find(claims, tee, "x-ms-sgx-mrsigner") is { ValueKind: JsonValueKind.String } mrSigner
            ? mrSigner.GetString()
            : Find(claims, tee, "x-ms-sevsnpvm-author-key-digest") is { ValueKind: JsonValueKind.String } author ? author.GetString() : null;

        Dictionary<string, long> svns = new(StringComparer.Ordinal);
        AddNumber(svns, "isv_svn", Find(claims, tee, "x-ms-sgx-svn"));
        AddNumber(svns, "isv_prod_id", Find(claims, tee, "x-ms-sgx-product-id"));
        AddNumber(svns, "guest_svn", Find(claims, tee, "x-ms-sevsnpvm-guestsvn"));
        AddNumber(svns, "vmpl", Find(claims, tee, "x-ms-sevsnpvm-vmpl"));

        byte[] reportData = [];
        foreach (string name in (string[])["x-ms-sgx-report-data", "x-ms-sevsnpvm-reportdata", "tdx_report_data"])
        {
            if (Find(claims, tee, name) is { ValueKind: JsonValueKind.String } hex && TryHex(hex.GetString()!, out byte[] bytes))
            {
                reportData = bytes;
                break;
            }
        }

        Dictionary<string, object> tokenClaims = new(StringComparer.Ordinal);
        foreach (JsonProperty property in claims.EnumerateObject())
        {
            tokenClaims[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.String => property.Value.GetString()!,
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                JsonValueKind.Number when property.Value.TryGetInt64(out long integer) => integer,
                JsonValueKind.Number when property.Value.TryGetDouble(out double real) && double.IsFinite(real) => real,
                _ => property.Value.GetRawText(),
            };
        }

        string issuer = claims.TryGetProperty("iss", out JsonElement iss) && iss.ValueKind == JsonValueKind.String ? iss.GetString()! : string.Empty;
        return new HardwareIdentity(debug ?? true, measurements, signer, svns, reportData, $"maa:{issuer}", tokenClaims);
    }

    private static JsonElement? Find(JsonElement claims, JsonElement? tee, string name) =>
        claims.TryGetProperty(name, out JsonElement top) ? top
        : tee is { } t && t.TryGetProperty(name, out JsonElement nested) ? nested
        : null;

    private static void AddString(Dictionary<string, string> target, string name, JsonElement? value)
    {
        if (value is { ValueKind: JsonValueKind.String } text)
        {
            target[name] = text.GetString()!.ToLowerInvariant();
        }
    }

    private static void AddNumber(Dictionary<string, long> target, string name, JsonElement? value)
    {
        if (value is { ValueKind: JsonValueKind.Number } number && number.TryGetInt64(out long result))
        {
            target[name] = result;
        }
    }

    private static bool TryHex(string text, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromHexString(text);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }
}
