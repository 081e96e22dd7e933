// The ready file a service writes once it is serving: which process it is and where it listens. Whoever starts a
// service on port 0 (the demo, tests, a supervisor) waits for this file instead of probing a port, which could
// answer for some other process that happens to hold it.
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Hosting;

public sealed record ServiceReadyFile(string Service, int ProcessId, Uri Grpc, Uri? Http)
{
    /// <summary>A ready file is a few hundred bytes; anything larger is not one.</summary>
    public const int MaxLength = 4096;

    /// <summary>Writes the file atomically (a temporary file beside it, then a rename), so a reader sees either no
    /// file or the whole of it.</summary>
    public void Write(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var json = new JsonObject
        {
            ["service"] = Service,
            ["pid"] = ProcessId,
            ["grpc"] = Grpc.ToString(),
        };
        if (Http is not null)
        {
            json["http"] = Http.ToString();
        }

        string full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string temporary = $"{full}.{ProcessId}.tmp";
        File.WriteAllText(temporary, json.ToJsonString());
        File.Move(temporary, full, overwrite: true);
    }

    /// <summary>Reads a ready file; null while there is none yet.</summary>
    /// <exception cref="InvalidDataException">The file is not a ready file (too long, not JSON, fields missing or
    /// not what they should be).</exception>
    public static ServiceReadyFile? TryRead(string path)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length > MaxLength)
            {
                throw new InvalidDataException($"{path} is {stream.Length} bytes; a ready file is at most {MaxLength}");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        return Parse(bytes, path);
    }

    /// <exception cref="InvalidDataException">The bytes are not a ready file.</exception>
    public static ServiceReadyFile Parse(ReadOnlySpan<byte> bytes, string source = "ready file")
    {
        if (bytes.Length > MaxLength)
        {
            throw new InvalidDataException($"{source} is {bytes.Length} bytes; a ready file is at most {MaxLength}");
        }

        JsonObject json;
        try
        {
            json = JsonNode.Parse(bytes, documentOptions: new JsonDocumentOptions { MaxDepth = 4 }) as JsonObject
                ?? throw new InvalidDataException($"{source} is not a JSON object");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source} is not JSON: {ex.Message}", ex);
        }

        string service = String(json, "service", source) ?? throw Missing("service", source);
        int pid = json["pid"] is JsonValue p && p.TryGetValue(out int value) && value > 0 ? value : throw Missing("pid", source);
        Uri grpc = Url(json, "grpc", source) ?? throw Missing("grpc", source);
        return new ServiceReadyFile(service, pid, grpc, Url(json, "http", source));
    }

    private static string? String(JsonObject json, string name, string source) => json[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) && s.Length > 0 => s,
        _ => throw new InvalidDataException($"{source}: '{name}' must be a non-empty string"),
    };

    private static Uri? Url(JsonObject json, string name, string source) =>
        String(json, name, source) is not { } text
            ? null
            : Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && uri.Port > 0
                ? uri
                : throw new InvalidDataException($"{source}: '{name}' must be an http(s) URL with a port, got '{text}'");

    private static InvalidDataException Missing(string name, string source) =>
        new($"{source} has no valid '{name}'");
}
