// The enclave image's configuration (docs/formats.md section 2a): the trust anchors the enclave pins, written into
// the image as enclave.config.json before the image is measured, so that the measurement every release policy
// pins covers them. Nothing the host sends can add to them.
//
//   {"type":"enclave-config/1",
//    "mode":"simulated"|"hardware",
//    "verifier":{"issuer":"<URL>","keys":{"keys":[<public JWK with kid>, ...]}},
//    "coordinator":{"keys":{"keys":[<public JWK with kid>, ...]}}}
//
// No other members; no duplicates; at most 64 KiB. Verifier keys: every token's kid must name one of them
// (rotation lists the current and the next key; see docs/formats.md). Coordinator keys sign round
// specifications and every coordinator message of secure aggregation.
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

/// <summary>Whether the enclave image runs on the simulated platform (development) or on TEE hardware.</summary>
public enum EnclaveMode
{
    /// <summary>Evidence from the simulated platform only; simulated peers accepted.</summary>
    Simulated,

    /// <summary>Evidence from hardware only; simulated peers refused.</summary>
    Hardware,
}

/// <summary>The trust anchors of one enclave image.</summary>
public sealed class EnclaveConfiguration
{
    public const string FileName = "enclave.config.json";
    public const string Type = "enclave-config/1";
    public const int MaxLength = 64 * 1024;
    public const int MaxKeys = 16;

    private static readonly string[] s_members = ["type", "mode", "verifier", "coordinator"];

    /// <exception cref="ArgumentException">A value is missing or out of range.</exception>
    public EnclaveConfiguration(EnclaveMode mode, string verifierIssuer, JwkSet verifierKeys, JwkSet coordinatorKeys)
    {
        ArgumentNullException.ThrowIfNull(verifierKeys);
        ArgumentNullException.ThrowIfNull(coordinatorKeys);
        if (!Uri.TryCreate(verifierIssuer, UriKind.Absolute, out Uri? issuer) || (issuer.Scheme != Uri.UriSchemeHttps && issuer.Scheme != Uri.UriSchemeHttp))
        {
            throw new ArgumentException($"the verifier issuer \"{verifierIssuer}\" is not an http(s) URL", nameof(verifierIssuer));
        }

        CheckKeys(verifierKeys, "verifier");
        CheckKeys(coordinatorKeys, "coordinator");
        Mode = mode;
        VerifierIssuer = verifierIssuer.TrimEnd('/');
        VerifierKeys = verifierKeys;
        CoordinatorKeys = coordinatorKeys;
    }

    public EnclaveMode Mode { get; }

    /// <summary>The issuer every attestation token must name (trailing slash removed).</summary>
    public string VerifierIssuer { get; }

    /// <summary>The only keys attestation tokens may be signed with.</summary>
    public JwkSet VerifierKeys { get; }

    /// <summary>The only keys round specifications and coordinator messages may be signed with.</summary>
    public JwkSet CoordinatorKeys { get; }

    /// <summary>Validation of attestation tokens against the pinned verifier (issuer and keys).</summary>
    public JwtValidationParameters TokenValidation() => new()
    {
        ValidIssuers = [VerifierIssuer],
        KeyResolver = kid => kid is null ? null : VerifierKeys.Find(kid),
    };

    /// <summary>Loads <see cref="FileName"/> from an image folder.</summary>
    /// <exception cref="InvalidDataException">The file is missing, too large or not a valid configuration.</exception>
    public static EnclaveConfiguration Load(string imageDirectory)
    {
        string path = Path.Combine(imageDirectory, FileName);
        byte[] bytes;
        try
        {
            using FileStream stream = File.OpenRead(path);
            if (stream.Length > MaxLength)
            {
                throw new InvalidDataException($"{path} is {stream.Length} bytes; at most {MaxLength}");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"the enclave image has no configuration ({path}); create one with `enclave image configure`", ex);
        }

        return Parse(bytes);
    }

    /// <exception cref="InvalidDataException">The bytes are not a valid configuration; the message says why.</exception>
    public static EnclaveConfiguration Parse(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxLength)
        {
            throw new InvalidDataException($"the enclave configuration is {utf8.Length} bytes; at most {MaxLength}");
        }

        try
        {
            using JsonDocument document = JoseJson.ParseDocument(utf8, "enclave configuration");
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("the enclave configuration is not a JSON object");
            }

            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!s_members.Contains(property.Name, StringComparer.Ordinal))
                {
                    throw new InvalidDataException($"the enclave configuration has an unknown member \"{property.Name}\"");
                }
            }

            if (String(root, "type") != Type)
            {
                throw new InvalidDataException($"the enclave configuration's type is not \"{Type}\"");
            }

            EnclaveMode mode = String(root, "mode") switch
            {
                "simulated" => EnclaveMode.Simulated,
                "hardware" => EnclaveMode.Hardware,
                string other => throw new InvalidDataException($"the enclave configuration's mode \"{other}\" is neither simulated nor hardware"),
            };
            JsonElement verifier = Object(root, "verifier", ["issuer", "keys"]);
            JsonElement coordinator = Object(root, "coordinator", ["keys"]);
            return new EnclaveConfiguration(mode, String(verifier, "issuer"), Keys(verifier, "verifier"), Keys(coordinator, "coordinator"));
        }
        catch (JoseException ex)
        {
            throw new InvalidDataException($"the enclave configuration is malformed: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"the enclave configuration is invalid: {ex.Message}", ex);
        }
    }

    public byte[] ToUtf8()
    {
        var root = new JsonObject
        {
            ["type"] = Type,
            ["mode"] = Mode == EnclaveMode.Simulated ? "simulated" : "hardware",
            ["verifier"] = new JsonObject { ["issuer"] = VerifierIssuer, ["keys"] = JsonNode.Parse(VerifierKeys.ToJson()) },
            ["coordinator"] = new JsonObject { ["keys"] = JsonNode.Parse(CoordinatorKeys.ToJson()) },
        };
        return Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    private static void CheckKeys(JwkSet keys, string what)
    {
        if (keys.Keys.Count == 0 || keys.Keys.Count > MaxKeys)
        {
            throw new ArgumentException($"the {what} key set holds 1 to {MaxKeys} keys, not {keys.Keys.Count}");
        }

        foreach (Jwk key in keys.Keys)
        {
            if (string.IsNullOrEmpty(key.Kid))
            {
                throw new ArgumentException($"every {what} key needs a kid");
            }

            if (!key.IsEc || key.Crv != "P-256")
            {
                throw new ArgumentException($"the {what} key {key.Kid} is not an EC P-256 key");
            }
        }
    }

    private static string String(JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()!
            : throw new InvalidDataException($"the enclave configuration lacks the string \"{name}\"");

    private static JsonElement Object(JsonElement element, string name, string[] members)
    {
        if (!element.TryGetProperty(name, out JsonElement value) || value.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"the enclave configuration lacks the object \"{name}\"");
        }

        foreach (JsonProperty property in value.EnumerateObject())
        {
            if (!members.Contains(property.Name, StringComparer.Ordinal))
            {
                throw new InvalidDataException($"the enclave configuration's \"{name}\" has an unknown member \"{property.Name}\"");
            }
        }

        return value;
    }

    private static JwkSet Keys(JsonElement element, string what)
    {
        if (!element.TryGetProperty("keys", out JsonElement keys) || keys.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"the enclave configuration's {what} has no key set");
        }

        return JwkSet.Parse(keys.GetRawText());
    }
}
