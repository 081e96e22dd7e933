using System.CommandLine;
using Enclave.Crypto;
using Enclave.KeyBroker;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Tokens;
using Enclave.KeyBroker.Transport;
using Microsoft.AspNetCore.Builder;

namespace Enclave.Cli.Commands;

internal static class ServeBroker
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Required = true, Description = "key store, audit log and broker keys" };
        var grpcPort = ServiceRun.PortOption("--grpc-port", "port for gRPC");
        var httpPort = ServiceRun.PortOption("--http-port", "port for HTTP (Key Vault-shaped release)");
        var transport = new ServiceTransport();
        var readyFile = ServiceRun.ReadyFileOption();
        var issuers = new Option<string[]>("--verifier-issuer") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "trusted verifier issuer URL (repeat)" };
        var verifierKeys = new Option<string[]>("--verifier-keys") { AllowMultipleArgumentsPerToken = true, Description = "JWKS or public JWK file of the verifier's signing keys (repeat); trusted for every --verifier-issuer, nothing is fetched" };
        var thumbprints = new Option<string[]>("--verifier-key-thumbprint") { AllowMultipleArgumentsPerToken = true, Description = "RFC 7638 base64url thumbprint of a verifier signing key (repeat); the JWKS is fetched from https {issuer}/certs and only pinned keys are used" };
        var allowHttpVerifier = new Option<bool>("--dev-allow-http-verifier") { Description = "development only: with --verifier-key-thumbprint, fetch the JWKS over plain http from a loopback issuer" };
        var audience = new Option<string>("--audience") { Description = "required token audience", DefaultValueFactory = _ => "enclave-key-broker" };
        var simulated = new Option<bool>("--simulated") { Description = "simulated mode: file master key, SIMULATED tokens accepted" };
        var coordinatorKeys = new Option<string[]>("--coordinator-key") { AllowMultipleArgumentsPerToken = true, Description = "public JWK file of a coordinator whose round manifests are recorded (repeat)" };
        var enrollmentKeys = new Option<string[]>("--enrollment-key") { AllowMultipleArgumentsPerToken = true, Description = "public JWK file of the security team whose node enrolments are recorded (repeat)" };
        var store = new Option<KeyBrokerStoreKind>("--store") { Description = "sqlite (embedded, in --data-dir) or postgres", DefaultValueFactory = _ => KeyBrokerStoreKind.Sqlite };
        var postgres = new Option<string>("--postgres") { Description = "PostgreSQL connection string for --store postgres (the password may come from PGPASSWORD instead)" };
        var pkcs11Module = new Option<string>("--pkcs11-module") { Description = "PKCS#11 module holding the master key (required outside --simulated)" };
        var pkcs11Token = new Option<string>("--pkcs11-token") { Description = "label of the PKCS#11 token" };
        var pkcs11PinEnv = new Option<string>("--pkcs11-pin-env") { Description = "environment variable holding the token's user PIN", DefaultValueFactory = _ => "ENCLAVE_PKCS11_PIN" };
        var pkcs11KeyLabel = new Option<string>("--pkcs11-key-label") { Description = "label of the master key object (created on first use)", DefaultValueFactory = _ => Pkcs11MasterKeyOptions.DefaultKeyLabel };
        var command = new Command("broker", "Run the key broker.")
        {
            dataDir, grpcPort, httpPort, issuers, verifierKeys, thumbprints, allowHttpVerifier, audience, simulated, coordinatorKeys, enrollmentKeys, store, postgres, pkcs11Module, pkcs11Token, pkcs11PinEnv, pkcs11KeyLabel, readyFile,
        };
        transport.AddTo(command);
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            (string listen, Enclave.Hosting.TlsSettings? tls) = transport.Resolve(parse);
            var options = new KeyBrokerOptions
            {
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                TrustedIssuers = parse.GetValue(issuers)!.Select(i => CliErrors.ParseUri(i, "--verifier-issuer").ToString().TrimEnd('/')).ToArray(),
                Audience = parse.GetValue(audience),
                SimulatedMode = parse.GetValue(simulated),
                EnrollmentKeys = (parse.GetValue(enrollmentKeys) ?? []).Select(KeyFiles.ReadPublicJwk).ToArray(),
                PinnedVerifierKeys = parse.GetValue(verifierKeys) is { Length: > 0 } keyFiles ? ReadVerifierKeys(keyFiles) : null,
                VerifierKeyThumbprints = parse.GetValue(thumbprints) ?? [],
                AllowHttpVerifierOnLoopback = parse.GetValue(allowHttpVerifier),
                Store = parse.GetValue(store),
                ConnectionString = StoreConnectionString(parse.GetValue(store), parse.GetValue(postgres)),
                MasterKey = MasterKeyOptions(parse.GetValue(pkcs11Module), parse.GetValue(pkcs11Token), parse.GetValue(pkcs11PinEnv)!, parse.GetValue(pkcs11KeyLabel)!),
            };
            Directory.CreateDirectory(options.DataDirectory);
            Jwk[] coordinators = (parse.GetValue(coordinatorKeys) ?? []).Select(KeyFiles.ReadPublicJwk).ToArray();
            IVerifierKeySource keySource;
            try
            {
                keySource = VerifierKeyPinning.CreateSource(options, tls is null ? null : new HttpClient(tls.CreateHandler(presentCertificate: false)));
            }
            catch (VerifierPinningException ex)
            {
                throw new CliException(ex.Message);
            }

            await using WebApplication app = ServiceRun.Build(() => BrokerServer.Build(options, coordinators, parse.GetValue(grpcPort), parse.GetValue(httpPort), listen, verifierKeys: keySource, tls: tls));
            return await ServiceRun.RunAsync(app, "broker", parse.GetValue(readyFile), cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>The verifier keys pinned by <c>--verifier-keys</c>: every key of each file (a JWKS, or one public JWK),
    /// a key without kid named by its thumbprint (the verifier's convention), the same key in two files kept once.</summary>
    public static JwkSet ReadVerifierKeys(IEnumerable<string> paths)
    {
        var keys = new List<Jwk>();
        foreach (string path in paths)
        {
            if (!File.Exists(path))
            {
                throw new CliException($"--verifier-keys {path} does not exist");
            }

            IReadOnlyList<Jwk> read;
            try
            {
                string json = File.ReadAllText(path);
                read = System.Text.Json.Nodes.JsonNode.Parse(json) is System.Text.Json.Nodes.JsonObject o && o.ContainsKey("keys")
                    ? JwkSet.Parse(json).Keys
                    : [Jwk.Parse(json)];
            }
            catch (Exception ex) when (ex is JoseException or System.Text.Json.JsonException)
            {
                throw new CliException($"--verifier-keys {path} is not a public JWKS or JWK: {ex.Message}");
            }

            foreach (Jwk key in read)
            {
                Jwk named = key.Kid is not null ? key
                    : key.IsEc ? Jwk.FromEcPublic(key.ToEcParameters(), key.ComputeThumbprint(), key.Use)
                    : Jwk.FromRsaPublic(key.ToRsaParameters(), key.ComputeThumbprint(), key.Use);
                if (!keys.Any(k => k.HasSameKey(named) && k.Kid == named.Kid))
                {
                    keys.Add(named);
                }
            }
        }

        try
        {
            return new JwkSet(keys);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"--verifier-keys: {ex.Message}");
        }
    }

    /// <summary>The PKCS#11 master key named on the command line, or null (file key, simulated mode only).</summary>
    public static Pkcs11MasterKeyOptions? MasterKeyOptions(string? module, string? token, string pinVariable, string keyLabel)
    {
        if (module is null && token is null)
        {
            return null;
        }

        if (module is null || token is null)
        {
            throw new CliException("--pkcs11-module and --pkcs11-token go together");
        }

        string pin = Environment.GetEnvironmentVariable(pinVariable)
            ?? throw new CliException($"the PKCS#11 PIN is read from the environment variable {pinVariable}, which is not set");
        return new Pkcs11MasterKeyOptions { ModulePath = Path.GetFullPath(module), TokenLabel = token, Pin = pin, KeyLabel = keyLabel };
    }

    /// <summary>The connection string for the chosen store: none for SQLite (the data directory decides),
    /// required for PostgreSQL.</summary>
    public static string? StoreConnectionString(KeyBrokerStoreKind kind, string? postgres) => kind switch
    {
        KeyBrokerStoreKind.Postgres when string.IsNullOrWhiteSpace(postgres) => throw new CliException("--store postgres needs --postgres \"Host=...;Database=...;Username=...\""),
        KeyBrokerStoreKind.Postgres => postgres,
        _ when !string.IsNullOrWhiteSpace(postgres) => throw new CliException("--postgres is only for --store postgres"),
        _ => null,
    };
}
