// Reading the untrusted JSON bodies of the verifier's HTTP endpoints. Every way a body can be wrong ends in an
// HttpRequestError (400 and a stable code), never in an exception out of the endpoint:
//   BodyTooLarge     the body is longer than the endpoint's bound (refused from Content-Length before reading,
//                    or after reading one byte past the bound: nothing larger is ever buffered)
//   MalformedJson    empty, not UTF-8, not JSON (syntax, comments, trailing commas), or a string with an
//                    unpaired surrogate escape
//   DuplicateMember  an object names a member twice (after unescaping): readers that keep the first and readers
//                    that keep the last would see different requests
//   TooDeep          objects or arrays nested deeper than the endpoint's bound
//   WrongType        a member (or the body) has another JSON type than the endpoint expects
//   MissingMember    a required member is absent
//   UnknownMember    a member the endpoint does not define (refused rather than ignored: a caller must not
//                    believe that something it sent, say a nonce, was checked)
//   InvalidBase64    a member that must be base64url is not
// Length bounds come first, so nothing is allocated in proportion to a length the caller chose beyond them.
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;

namespace Enclave.AttestationVerifier.Transport;

/// <summary>A refused HTTP request body: the stable code and a message naming what was wrong.</summary>
internal sealed record HttpRequestError(string Code, string Message);

internal static class HttpJsonRequest
{
    public const string BodyTooLarge = "BodyTooLarge";
    public const string MalformedJson = "MalformedJson";
    public const string DuplicateMember = "DuplicateMember";
    public const string TooDeep = "TooDeep";
    public const string WrongType = "WrongType";
    public const string MissingMember = "MissingMember";
    public const string UnknownMember = "UnknownMember";
    public const string InvalidBase64 = "InvalidBase64";

    /// <summary>Reads at most <paramref name="maxBytes"/> bytes of the body.</summary>
    public static async Task<(byte[]? Body, HttpRequestError? Error)> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }

        // A declared length sizes the buffer exactly; otherwise (chunked) it grows, never past maxBytes + 1.
        byte[] buffer = new byte[request.ContentLength is { } known ? (int)known + 1 : Math.Min(maxBytes + 1, 16 * 1024)];
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length > maxBytes)
                    {
                        return (null, TooLarge(maxBytes));
                    }

                    Array.Resize(ref buffer, (int)Math.Min((long)buffer.Length * 2, maxBytes + 1L));
                }

                int read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > maxBytes)
                {
                    return (null, TooLarge(maxBytes));
                }
            }
        }
        catch (BadHttpRequestException ex)
        {
            // Kestrel's own limit, or a body shorter than its Content-Length.
            return (null, ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(maxBytes)
                : new HttpRequestError(MalformedJson, $"the request body could not be read: {ex.Message}"));
        }

        return (buffer.AsSpan(0, length).ToArray(), null);
    }

    /// <summary>Parses <paramref name="body"/> once its shape is known to be sound: UTF-8, JSON, no duplicate
    /// member in any object, no string with an unpaired surrogate, nesting at most <paramref name="maxDepth"/>.</summary>
    public static (JsonDocument? Document, HttpRequestError? Error) Parse(byte[] body, int maxDepth)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (body.Length == 0)
        {
            return (null, new HttpRequestError(MalformedJson, "the request body is empty; it must be a JSON object"));
        }

        if (!Utf8.IsValid(body))
        {
            return (null, new HttpRequestError(MalformedJson, "the request body is not valid UTF-8"));
        }

        if (Check(body, maxDepth) is { } error)
        {
            return (null, error);
        }

        try
        {
            return (JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth + 1 }), null);
        }
        catch (JsonException ex)
        {
            return (null, new HttpRequestError(MalformedJson, $"the request body is not JSON: {ex.Message}"));
        }
    }

    /// <summary>The object member <paramref name="name"/> as a string, or the error naming why it is not one.</summary>
    public static HttpRequestError? TryGetString(JsonElement parent, string path, string name, bool required, out string? value)
    {
        value = null;
        if (!parent.TryGetProperty(name, out JsonElement element))
        {
            return required ? new HttpRequestError(MissingMember, $"the request needs '{path}{name}'") : null;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            return new HttpRequestError(WrongType, $"'{path}{name}' must be a string, not {Describe(element.ValueKind)}");
        }

        value = element.GetString();
        return null;
    }

    /// <summary>The base64url member <paramref name="name"/> decoded, or the error naming what is wrong with it.</summary>
    public static HttpRequestError? TryGetBase64Url(JsonElement parent, string path, string name, out byte[] value)
    {
        value = [];
        if (TryGetString(parent, path, name, required: true, out string? text) is { } error)
        {
            return error;
        }

        return Enclave.Crypto.Base64Url.TryDecode(text, out value)
            ? null
            : new HttpRequestError(InvalidBase64, $"'{path}{name}' is not base64url (RFC 4648 section 5, without padding)");
    }

    /// <summary>An error naming the first member of <paramref name="element"/> not in <paramref name="allowed"/>.</summary>
    public static HttpRequestError? CheckMembers(JsonElement element, string path, params string[] allowed)
    {
        foreach (JsonProperty member in element.EnumerateObject())
        {
            if (Array.IndexOf(allowed, member.Name) < 0)
            {
                return new HttpRequestError(UnknownMember, $"'{path}{Printable(member.Name)}' is not a member of this request; allowed: {string.Join(", ", allowed)}");
            }
        }

        return null;
    }

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static HttpRequestError TooLarge(int maxBytes) =>
        new(BodyTooLarge, $"the request body is larger than {maxBytes} bytes");

    /// <summary>One pass of the reader over the whole body: syntax, depth, duplicates and strings.</summary>
    private static HttpRequestError? Check(byte[] body, int maxDepth)
    {
        // The reader's own depth limit is above ours, so exceeding ours is reported as TooDeep, not as a syntax error.
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth + 2 });
        Stack<HashSet<string>?> scopes = new();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        if (reader.CurrentDepth >= maxDepth)
                        {
                            return new HttpRequestError(TooDeep, $"the request body nests objects or arrays deeper than {maxDepth} levels");
                        }

                        scopes.Push(reader.TokenType == JsonTokenType.StartObject ? new HashSet<string>(StringComparer.Ordinal) : null);
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        scopes.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        string name = reader.GetString()!;
                        if (!scopes.Peek()!.Add(name))
                        {
                            return new HttpRequestError(DuplicateMember, $"the request body names member '{Printable(name)}' twice in one object");
                        }

                        break;
                    case JsonTokenType.String:
                        _ = reader.GetString();
                        break;
                    default:
                        break;
                }
            }
        }
        catch (JsonException ex)
        {
            return new HttpRequestError(MalformedJson, $"the request body is not JSON: {ex.Message}");
        }
        catch (InvalidOperationException ex)
        {
            // GetString on an escape that is an unpaired surrogate.
            return new HttpRequestError(MalformedJson, $"the request body holds a string that is not valid text: {ex.Message}");
        }

        return null;
    }

    /// <summary>A member name as it may appear in a message: at most 64 characters, control characters replaced.</summary>
    private static string Printable(string name)
    {
        string bounded = name.Length > 64 ? name[..64] + "..." : name;
        return string.Create(bounded.Length, bounded, static (span, text) =>
        {
            for (int i = 0; i < text.Length; i++)
            {
                span[i] = char.IsControl(text[i]) ? '?' : text[i];
            }
        });
    }
}
