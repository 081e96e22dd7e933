// Starts the verifier: gRPC (HTTP/2 cleartext on loopback) for hosts and operators, and HTTP/JSON for the
// ecosystem (OpenID metadata and JWKS so any JWT library can check tokens, and an Azure-style attest endpoint).
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Evidence;
using Enclave.Crypto;
using Enclave.Hosting;
using Enclave.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.AttestationVerifier.Transport;

public static class VerifierServer
{
    /// <summary>Builds the verifier listening on <paramref name="listenAddress"/> (port 0: any free port, named in
    /// the application's <see cref="ServiceEndpoints"/>).</summary>
    public static WebApplication Build(VerifierOptions options, int grpcPort, int httpPort, string listenAddress = "127.0.0.1", Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Build(options, ServiceHost.CreateBuilder(listenAddress, grpcPort, httpPort, MaxMessageBytes, logging));
    }

    /// <summary>Builds the verifier on listeners already bound (their HTTP URL is typically the issuer); the
    /// application takes ownership of them.</summary>
    public static WebApplication Build(VerifierOptions options, ServiceEndpoints endpoints, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.Http is null)
        {
            throw new ArgumentException("The verifier serves OpenID metadata and JWKS over HTTP; it needs an HTTP listener.", nameof(endpoints));
        }

        options.Validate();
        return Build(options, ServiceHost.CreateBuilder(endpoints, MaxMessageBytes, logging));
    }

    private const int MaxMessageBytes = 2 * VerifierOptions.MaxEvidenceLength;

    private static WebApplication Build(VerifierOptions options, WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(sp => new AttestationService(options, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Enclave.Verifier")));
        WebApplication app = builder.Build();
        app.MapGrpcService<VerifierGrpcService>();

        app.MapGet("/.well-known/openid-configuration", (AttestationService s) => Results.Text(s.GetOpenIdConfiguration(), "application/json"));
        app.MapGet("/certs", (AttestationService s) => Results.Text(s.GetJwks(), "application/json"));

        // Azure-Attestation-shaped: POST /attest/{format} {"evidence": b64url, "runtimeData": {"data": b64url, "dataType": "Binary"}}
        app.MapPost("/attest/{format}", async (string format, HttpRequest request, AttestationService s) =>
        {
            JsonObject? body;
            try
            {
                body = await JsonSerializer.DeserializeAsync<JsonObject>(request.Body).ConfigureAwait(false);
            }
            catch (JsonException ex)
            {
                return Problem(400, "MalformedRequest", $"request body is not JSON: {ex.Message}");
            }

            if (body?["evidence"] is not JsonValue ev || !ev.TryGetValue(out string? evidence)
                || body["runtimeData"]?["data"] is not JsonValue rd || !rd.TryGetValue(out string? runtimeData))
            {
                return Problem(400, "MalformedRequest", "request needs 'evidence' and 'runtimeData.data' as base64url strings");
            }

            if (!Base64Url.TryDecode(evidence, out byte[] evidenceBytes) || !Base64Url.TryDecode(runtimeData, out byte[] runtimeBytes))
            {
                return Problem(400, "MalformedRequest", "'evidence' and 'runtimeData.data' must be base64url");
            }

            AttestationOutcome outcome = s.Attest(VerifierGrpcService.Format(format), evidenceBytes, runtimeBytes);
            return outcome.Succeeded
                ? Results.Json(new JsonObject { ["token"] = outcome.Token })
                : Problem(StatusMapping.HttpStatus(outcome), StatusMapping.ReasonCode(outcome), outcome.Message);
        });
        return app;
    }

    private static IResult Problem(int status, string code, string message) =>
        Results.Json(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } }, statusCode: status);
}
