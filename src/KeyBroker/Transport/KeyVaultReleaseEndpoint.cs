// HTTP/JSON release in the shape of Azure Key Vault's "release key" operation:
//   POST /keys/{owner}/{name}/release  or  POST /keys/{owner}/{name}/{version}/release   (version: a number or "latest")
//   ({owner}/{name} is the full key id, Keys/KeyId.cs)
//   body {"target":"<attestation token>","nonce"?:"<the token's nonce>","enc"?:"RSA-OAEP-256"|"ECDH-ES+A256KW"}
//   200 {"value":"<compact JWE of the data key to the enclave's first encryption key>"}
//       headers x-enclave-key-version, x-enclave-audit-receipt
//   errors {"error":{"code":"<code>","message":"<text>"}}:
//       400 BadParameter (any malformed body: not JSON, duplicate members, wrong types, nested too deep) /
//           UnsupportedAlgorithm (Key Vault's CKM_RSA_AES_KEY_WRAP and RSA_AES_KEY_WRAP_256/384 are not produced:
//           releases are JWEs only)
//       413 RequestTooLarge
//       401 the token-stage reason (the attestation token is the caller's credential)
//       403 ReleaseDenied for every later denial, so an unknown key, a disabled key, another version and a
//           policy mismatch look the same
//       429 RateLimited: too many releases with tokens that did not validate from this address (see
//           UnauthenticatedReleaseLimiter)
// Nothing about keys is consulted before the token is accepted.
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Enclave.KeyBroker.Transport;

public static class KeyVaultReleaseEndpoint
{
    public const string KeyVersionHeader = "x-enclave-key-version";
    public const string ReceiptHeader = "x-enclave-audit-receipt";

    private const int MaxBodyBytes = 128 * 1024;
    private const int MaxNonceLength = 256;
    private static readonly string[] s_keyVaultWrapAlgorithms = ["CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256", "RSA_AES_KEY_WRAP_384"];

    /// <summary>Maps both release routes to <paramref name="service"/>.</summary>
    public static void Map(IEndpointRouteBuilder routes, KeyBrokerService service)
    {
        ArgumentNullException.ThrowIfNull(routes);
        ArgumentNullException.ThrowIfNull(service);
        routes.MapPost("/keys/{owner}/{name}/release", (string owner, string name, HttpRequest request) =>
            ReleaseAsync(service, owner + "/" + name, null, request));
        routes.MapPost("/keys/{owner}/{name}/{version}/release", (string owner, string name, string version, HttpRequest request) =>
            ReleaseAsync(service, owner + "/" + name, version, request));
    }

    private static async Task<IResult> ReleaseAsync(KeyBrokerService service, string name, string? versionText, HttpRequest request)
    {
        int? version = null;
        if (versionText is not null && versionText != "latest")
        {
            if (!int.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) || parsed < 1)
            {
                return Error(StatusCodes.Status400BadRequest, "BadParameter", "the key version must be a positive integer or \"latest\"");
            }

            version = parsed;
        }

        if (request.ContentLength is > MaxBodyBytes)
        {
            return Error(StatusCodes.Status413PayloadTooLarge, "RequestTooLarge", $"the request body is larger than {MaxBodyBytes} bytes");
        }

        JsonObject? body;
        try
        {
            using var limited = new MemoryStream();
            await CopyBoundedAsync(request.Body, limited, request.HttpContext.RequestAborted).ConfigureAwait(false);
            body = ParseBody(limited.ToArray());
        }
        catch (JsonException)
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter",
                "the request body is not a JSON object without duplicate members, nested at most 8 deep");
        }
        catch (InvalidDataException e)
        {
            return Error(StatusCodes.Status413PayloadTooLarge, "RequestTooLarge", e.Message);
        }

        if (body is null)
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter", "the request body must be a JSON object");
        }

        if (!TryGetString(body, "target", out string? target) || string.IsNullOrEmpty(target) || target.Length > Jws.MaxTokenLength)
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter", "\"target\" must be the attestation token (a string of at most 64 KiB)");
        }

        if (!TryGetString(body, "nonce", out string? nonce) || nonce?.Length > MaxNonceLength)
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter", "\"nonce\" must be a string of at most 256 characters");
        }

        if (!TryGetString(body, "enc", out string? enc))
        {
            return Error(StatusCodes.Status400BadRequest, "BadParameter", "\"enc\" must be a string");
        }

        if (enc is not null && enc is not (Jwe.RsaOaep256 or Jwe.EcdhEsA256Kw))
        {
            return s_keyVaultWrapAlgorithms.Contains(enc, StringComparer.Ordinal)
                ? Error(StatusCodes.Status400BadRequest, "UnsupportedAlgorithm",
                    $"\"{enc}\" is not produced: keys are released as compact JWE with RSA-OAEP-256 or ECDH-ES+A256KW")
                : Error(StatusCodes.Status400BadRequest, "BadParameter", "\"enc\" must be RSA-OAEP-256 or ECDH-ES+A256KW");
        }

        var options = new ReleaseKeyOptions(name, target)
        {
            Version = version,
            Nonce = nonce,
            Algorithm = enc,
            Caller = request.HttpContext.Connection.RemoteIpAddress?.ToString(),
        };
        ReleaseOutcome outcome = await service.ReleaseAsync(options, request.HttpContext.RequestAborted).ConfigureAwait(false);
        if (outcome.IsRateLimited)
        {
            return Error(StatusCodes.Status429TooManyRequests, ReleaseOutcome.RateLimited,
                "too many releases with tokens that did not validate from this address; try again later");
        }

        if (outcome.IsGranted)
        {
            request.HttpContext.Response.Headers[KeyVersionHeader] = outcome.KeyVersion!.Value.ToString(CultureInfo.InvariantCulture);
            request.HttpContext.Response.Headers[ReceiptHeader] = outcome.ReceiptId;
            return Results.Json(new JsonObject { ["value"] = outcome.WrappedKey });
        }

        bool tokenStage = outcome.WireReason != ReleaseOutcome.CoarseDenial;
        return Error(
            tokenStage ? StatusCodes.Status401Unauthorized : StatusCodes.Status403Forbidden,
            outcome.WireReason,
            $"release denied (audit receipt {outcome.ReceiptId})");
    }

    /// <summary>The body as a JSON object; duplicate members, nesting deeper than 8 and any other malformation
    /// are a <see cref="JsonException"/>, so no later lookup can meet them.</summary>
    internal static JsonObject? ParseBody(byte[] utf8)
    {
        var options = new JsonDocumentOptions { MaxDepth = 8, AllowDuplicateProperties = false };
        using JsonDocument document = JsonDocument.Parse(utf8, options);
        return document.RootElement.ValueKind == JsonValueKind.Object ? JsonObject.Create(document.RootElement.Clone()) : null;
    }

    private static async Task CopyBoundedAsync(Stream source, Stream destination, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[16 * 1024];
        int total = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            total += read;
            if (total > MaxBodyBytes)
            {
                throw new InvalidDataException($"the request body is larger than {MaxBodyBytes} bytes");
            }

            destination.Write(buffer, 0, read);
        }
    }

    private static bool TryGetString(JsonObject body, string name, out string? value)
    {
        value = null;
        if (!body.TryGetPropertyValue(name, out JsonNode? node) || node is null)
        {
            return true;
        }

        if (node is JsonValue text && text.GetValueKind() == JsonValueKind.String)
        {
            try
            {
                value = text.GetValue<string>();
                return true;
            }
            catch (InvalidOperationException)
            {
                // An escaped lone surrogate: valid JSON syntax, but no UTF-16 string.
                return false;
            }
        }

        return false;
    }

    internal static IResult Error(int status, string code, string message) =>
        Results.Json(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } }, statusCode: status);
}
