// Starts the key broker: gRPC on loopback for enclaves (through their hosts), owners and the coordinator, and an
// HTTP/JSON endpoint in the Key Vault shape for clients that expect it.
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Tokens;
using Enclave.Hosting;
using Enclave.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.KeyBroker.Transport;

public static class BrokerServer
{
    /// <summary>The audit log's public key, published beside the store for auditors.</summary>
    public const string AuditPublicKeyFileName = "audit.jwk";

    /// <param name="verifierKeys">Where trusted verifiers' keys come from; null uses the keys or thumbprints the
    /// options pin (<see cref="VerifierKeyPinning.CreateSource"/>).</param>
    /// <exception cref="VerifierPinningException">No source is given and the options pin no verifier key usably.</exception>
    public static WebApplication Build(
        KeyBrokerOptions options,
        IEnumerable<Jwk> coordinatorKeys,
        int grpcPort,
        int httpPort,
        string listenAddress = ServiceHost.DefaultListenAddress,
        Action<ILoggingBuilder>? logging = null,
        IVerifierKeySource? verifierKeys = null,
        TlsSettings? tls = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        verifierKeys ??= VerifierKeyPinning.CreateSource(options, tls is null ? null : new HttpClient(tls.CreateHandler(presentCertificate: false)));
        WebApplicationBuilder builder = ServiceHost.CreateBuilder(listenAddress, grpcPort, httpPort, 1024 * 1024, tls, requireClientCertificate: false, logging);
        builder.Services.AddSingleton(new CoordinatorKeys(coordinatorKeys));
        builder.Services.AddSingleton<IMasterKey>(_ => OpenMasterKey(options));
        builder.Services.AddSingleton(services =>
            new KeyBrokerService(options, verifierKeys, services.GetRequiredService<IMasterKey>()));
        WebApplication app = builder.Build();
        KeyBrokerService broker = app.Services.GetRequiredService<KeyBrokerService>();
        File.WriteAllText(Path.Combine(options.DataDirectory, AuditPublicKeyFileName), broker.AuditPublicKey.ToJson());
        app.Logger.LogInformation("Broker keys from {Source}: import key {ImportKid}, audit key {AuditKid}",
            broker.KeyMaterialDescription, broker.ImportKey.Kid, broker.AuditPublicKey.Kid);
        if (options.Store == KeyBrokerStoreKind.Postgres && options.ResolvedKeySource == BrokerKeySource.DataDirectory)
        {
            app.Logger.LogWarning("The broker keys are in the data directory: another broker on this PostgreSQL store accepts this one's nonces "
                + "and owner requests only if it is given the same keys (--import-key/--audit-signing-key/--nonce-key, or --pkcs11-broker-keys)");
        }

        MapEndpoints(app, broker);
        return app;
    }

    /// <summary>Serves an existing broker (which the caller keeps and disposes): gRPC on
    /// <paramref name="grpcPort"/>, HTTP/1 JSON on <paramref name="httpPort"/>.</summary>
    public static WebApplication Build(KeyBrokerService broker, IEnumerable<Jwk> coordinatorKeys, int grpcPort, int httpPort, string listenAddress = ServiceHost.DefaultListenAddress, Action<ILoggingBuilder>? logging = null, TlsSettings? tls = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        WebApplicationBuilder builder = ServiceHost.CreateBuilder(listenAddress, grpcPort, httpPort, 1024 * 1024, tls, requireClientCertificate: false, logging);
        builder.Services.AddSingleton(new CoordinatorKeys(coordinatorKeys));
        builder.Services.AddSingleton(broker);
        WebApplication app = builder.Build();
        MapEndpoints(app, broker);
        return app;
    }

    private static void MapEndpoints(WebApplication app, KeyBrokerService broker)
    {
        app.MapGrpcService<BrokerGrpcService>();
        KeyVaultReleaseEndpoint.Map(app, broker);
        app.MapPost("/nonce", async (HttpContext context) =>
        {
            IssuedNonce nonce = await broker.IssueNonceAsync(context.RequestAborted).ConfigureAwait(false);
            return Results.Json(new JsonObject { ["nonce"] = nonce.Value, ["expiresAt"] = nonce.ExpiresAt.ToUnixTimeSeconds() });
        });
        app.MapGet("/import-key", () => Results.Text(broker.ImportKey.ToJson(), "application/json"));
        app.MapGet("/audit-key", () => Results.Text(broker.AuditPublicKey.ToJson(), "application/json"));
    }

    /// <summary>The PKCS#11 master key the options name; without one, the file master key, which only
    /// simulated mode allows.</summary>
    /// <exception cref="MasterKeyException">No PKCS#11 master key outside simulated mode, or the token failed.</exception>
    public static IMasterKey OpenMasterKey(KeyBrokerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.MasterKey is { } pkcs11)
        {
            return Pkcs11MasterKey.Open(pkcs11);
        }

        if (!options.SimulatedMode)
        {
            throw new MasterKeyException(MasterKeyError.NotAllowed,
                "outside simulated mode the master key must be in a PKCS#11 token (module, token label and PIN); a file master key is refused");
        }

        return options.MasterKeyFile is { } configured
            ? FileMasterKey.Load(configured, options.SimulatedMode)
            : new FileMasterKey(Path.Combine(options.DataDirectory, FileMasterKey.DefaultFileName), options.SimulatedMode);
    }

    private static IResult Error(int status, string code, string message) =>
        Results.Json(new JsonObject { ["error"] = new JsonObject { ["code"] = code, ["message"] = message } }, statusCode: status);
}
