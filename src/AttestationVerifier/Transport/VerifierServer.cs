// Starts the verifier: gRPC (HTTP/2 cleartext on loopback) for hosts and operators, and HTTP/JSON for the
// ecosystem (OpenID metadata and JWKS so any JWT library can check tokens, and an Azure-style attest endpoint).
using System.Text.Json;
using System.Text.Json.Nodes;
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
    /// <param name="tls">The verifier's TLS identity; null serves cleartext, on loopback only.</param>
    public static WebApplication Build(VerifierOptions options, int grpcPort, int httpPort, string listenAddress = ServiceHost.DefaultListenAddress, Action<ILoggingBuilder>? logging = null, TlsSettings? tls = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return Build(options, ServiceHost.CreateBuilder(listenAddress, grpcPort, httpPort, MaxMessageBytes, tls, requireClientCertificate: false, logging));
    }

    /// <summary>Builds the verifier on listeners already bound (their HTTP URL is typically the issuer); the
    /// application takes ownership of them.</summary>
    public static WebApplication Build(VerifierOptions options, ServiceEndpoints endpoints, Action<ILoggingBuilder>? logging = null, TlsSettings? tls = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.Http is null)
        {
            throw new ArgumentException("The verifier serves OpenID metadata and JWKS over HTTP; it needs an HTTP listener.", nameof(endpoints));
        }

        options.Validate();
        return Build(options, ServiceHost.CreateBuilder(endpoints, MaxMessageBytes, tls, requireClientCertificate: false, logging));
    }

    private const int MaxMessageBytes = 2 * VerifierOptions.MaxEvidenceLength;

    private static WebApplication Build(VerifierOptions options, WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(sp => new AttestationService(options, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Enclave.Verifier")));
        WebApplication app = builder.Build();
        app.MapGrpcService<VerifierGrpcService>();

        app.MapGet("/.well-known/openid-configuration", (AttestationService s) => Results.Text(s.GetOpenIdConfiguration(), "application/json"));
        app.MapGet("/certs", (AttestationService s) => Results.Text(s.GetJwks(), "application/json"));

        // Azure-Attestation-shaped: POST /attest/{format} {"evidence": b64url, "runtimeData": {"data": b64url, "dataType": "Binary"}}.
        // Every malformed body is a 400 with a code (HttpJsonRequest); only then is the evidence looked at.
        app.MapPost("/attest/{format}", async (string format, HttpRequest request, AttestationService s, CancellationToken cancellationToken) =>
        {
            (AttestBody? body, HttpRequestError? error) = await ReadAttestBodyAsync(request, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                return Problem(StatusCodes.Status400BadRequest, error.Code, error.Message);
            }

            AttestationOutcome outcome = s.Attest(VerifierGrpcService.Format(format), body!.Evidence, body.RuntimeData);
            return outcome.Succeeded
                ? Results.Json(new JsonObject { ["token"] = outcome.Token })
                : Problem(StatusMapping.HttpStatus(outcome), StatusMapping.ReasonCode(outcome), outcome.Message);
        });
        return app;
    }

    /// <summary>Bound on an attest body: the largest evidence and runtime data base64url-encoded, and room for the
    /// JSON around them. Kestrel's own limit (<see cref="MaxMessageBytes"/>) is above it.</summary>
    internal const int MaxAttestBodyBytes = (VerifierOptions.MaxEvidenceLength + Appraisal.RuntimeData.MaxLength) / 3 * 4 + 4096;

    /// <summary>An attest body holds at most the object and runtimeData in it; a little room beyond.</summary>
    private const int MaxAttestBodyDepth = 4;

    private sealed record AttestBody(byte[] Evidence, byte[] RuntimeData);

    private static async Task<(AttestBody? Body, HttpRequestError? Error)> ReadAttestBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        (byte[]? bytes, HttpRequestError? error) = await HttpJsonRequest.ReadBodyAsync(request, MaxAttestBodyBytes, cancellationToken).ConfigureAwait(false);
        if (error is not null)
        {
            return (null, error);
        }

        (JsonDocument? document, error) = HttpJsonRequest.Parse(bytes!, MaxAttestBodyDepth);
        if (error is not null)
        {
            return (null, error);
        }

        using (document)
        {
            JsonElement root = document!.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, new HttpRequestError(HttpJsonRequest.WrongType, $"the request body must be a JSON object, not {HttpJsonRequest.Describe(root.ValueKind)}"));
            }

            byte[] evidence = [];
            error = HttpJsonRequest.CheckMembers(root, string.Empty, "evidence", "runtimeData")
                ?? HttpJsonRequest.TryGetBase64Url(root, string.Empty, "evidence", out evidence);
            if (error is not null)
            {
                return (null, error);
            }

            if (!root.TryGetProperty("runtimeData", out JsonElement runtime))
            {
                return (null, new HttpRequestError(HttpJsonRequest.MissingMember, "the request needs 'runtimeData'"));
            }

            if (runtime.ValueKind != JsonValueKind.Object)
            {
                return (null, new HttpRequestError(HttpJsonRequest.WrongType, $"'runtimeData' must be an object, not {HttpJsonRequest.Describe(runtime.ValueKind)}"));
            }

            string? dataType = null;
            byte[] runtimeData = [];
            error = HttpJsonRequest.CheckMembers(runtime, "runtimeData.", "data", "dataType")
                ?? HttpJsonRequest.TryGetString(runtime, "runtimeData.", "dataType", required: false, out dataType)
                ?? HttpJsonRequest.TryGetBase64Url(runtime, "runtimeData.", "data", out runtimeData);
            if (error is not null)
            {
                return (null, error);
            }

            // The runtime data is bound as its exact bytes; "JSON" (Azure's other type) would mean claims parsed from it.
            if (dataType is not (null or "Binary"))
            {
                return (null, new HttpRequestError(HttpJsonRequest.WrongType, "'runtimeData.dataType' must be \"Binary\" (or absent)"));
            }

            return (new AttestBody(evidence, runtimeData), null);
        }
    }

    private static IResult Problem(int status, string code, string message) =>
        Results.Json(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } }, statusCode: status);
}
