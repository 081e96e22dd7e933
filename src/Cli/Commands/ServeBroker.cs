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
        var importKeyFile = new Option<string>("--import-key") { Description = "configured import key owners encrypt to (EC P-256 private key PEM, 0600, e.g. a mounted Secret); with --audit-signing-key and --nonce-key, shared by every broker on one database" };
        var auditKeyFile = new Option<string>("--audit-signing-key") { Description = "configured audit signing key (EC P-256 private key PEM, 0600)" };
        var nonceKeyFile = new Option<string>("--nonce-key") { Description = "configured nonce HMAC key (32 raw bytes, 0600)" };
        var masterKeyFile = new Option<string>("--master-key") { Description = "--simulated only: configured file master key (32 raw bytes, 0600) instead of master.key in --data-dir" };
        var pkcs11BrokerKeys = new Option<bool>("--pkcs11-broker-keys") { Description = "keep the import, audit signing and nonce keys in the PKCS#11 token too (created on first use), shared by every broker on that token" };
        var pkcs11BrokerKeyLabel = new Option<string>("--pkcs11-broker-key-label") { Description = "label prefix of the broker key objects ({prefix}-import, -audit, -nonce)", DefaultValueFactory = _ => Pkcs11BrokerKeys.DefaultLabelPrefix };
        var command = new Command("broker", "Run the key broker.")
        {
            dataDir, grpcPort, httpPort, issuers, verifierKeys, thumbprints, allowHttpVerifier, audience, simulated, coordinatorKeys, enrollmentKeys, store, postgres, pkcs11Module, pkcs11Token, pkcs11PinEnv, pkcs11KeyLabel, readyFile,
        };
        transport.AddTo(command);
        foreach (Option option in new Option[] { importKeyFile, auditKeyFile, nonceKeyFile, masterKeyFile, pkcs11BrokerKeys, pkcs11BrokerKeyLabel })
        {
            command.Options.Add(option);
        }

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
                PinnedVerifierKeys = parse.GetValue(verifierKeys) is { Length: > 0 } keyFiles ? KeyFiles.ReadPublicKeySets(keyFiles, "--verifier-keys") : null,
                VerifierKeyThumbprints = parse.GetValue(thumbprints) ?? [],
                AllowHttpVerifierOnLoopback = parse.GetValue(allowHttpVerifier),
                Store = parse.GetValue(store),
                ConnectionString = StoreConnectionString(parse.GetValue(store), parse.GetValue(postgres)),
                MasterKey = MasterKeyOptions(parse.GetValue(pkcs11Module), parse.GetValue(pkcs11Token), parse.GetValue(pkcs11PinEnv)!, parse.GetValue(pkcs11KeyLabel)!),
                KeySource = BrokerKeySourceOption(parse.GetValue(importKeyFile), parse.GetValue(auditKeyFile), parse.GetValue(nonceKeyFile), parse.GetValue(pkcs11BrokerKeys), parse.GetValue(pkcs11Module)),
                ImportKeyFile = ExistingFile(parse.GetValue(importKeyFile), "--import-key"),
                AuditSigningKeyFile = ExistingFile(parse.GetValue(auditKeyFile), "--audit-signing-key"),
                NonceKeyFile = ExistingFile(parse.GetValue(nonceKeyFile), "--nonce-key"),
                MasterKeyFile = MasterKeyFileOption(parse.GetValue(masterKeyFile), parse.GetValue(simulated), parse.GetValue(pkcs11Module)),
                Pkcs11KeyLabelPrefix = parse.GetValue(pkcs11BrokerKeyLabel)!,
            };
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

            // A broker that fails to start leaves no empty data folder behind it.
            bool created = !Directory.Exists(options.DataDirectory);
            Directory.CreateDirectory(options.DataDirectory);
            WebApplication app;
            try
            {
                app = ServiceRun.Build(() => BrokerServer.Build(options, coordinators, parse.GetValue(grpcPort), parse.GetValue(httpPort), listen, verifierKeys: keySource, tls: tls));
            }
            catch when (created && !Directory.EnumerateFileSystemEntries(options.DataDirectory).Any())
            {
                Directory.Delete(options.DataDirectory);
                throw;
            }

            await using (app)
            {
                return await ServiceRun.RunAsync(app, "broker", parse.GetValue(readyFile), cancellationToken).ConfigureAwait(false);
            }
        }));
        return command;
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

    /// <summary>Where the broker keys come from: the PKCS#11 token (<c>--pkcs11-broker-keys</c>), the configured files
    /// (all three), or (neither) the data directory.</summary>
    public static BrokerKeySource BrokerKeySourceOption(string? importKey, string? auditKey, string? nonceKey, bool pkcs11, string? pkcs11Module)
    {
        int files = new[] { importKey, auditKey, nonceKey }.Count(f => f is not null);
        if (pkcs11 && files > 0)
        {
            throw new CliException("--pkcs11-broker-keys and --import-key/--audit-signing-key/--nonce-key are alternatives");
        }

        if (pkcs11 && pkcs11Module is null)
        {
            throw new CliException("--pkcs11-broker-keys needs the PKCS#11 master key (--pkcs11-module, --pkcs11-token)");
        }

        if (files is > 0 and < 3)
        {
            throw new CliException("--import-key, --audit-signing-key and --nonce-key go together");
        }

        return pkcs11 ? BrokerKeySource.Pkcs11 : files == 3 ? BrokerKeySource.Files : BrokerKeySource.DataDirectory;
    }

    private static string? MasterKeyFileOption(string? path, bool simulated, string? pkcs11Module) => path switch
    {
        null => null,
        _ when !simulated || pkcs11Module is not null => throw new CliException("--master-key is only for --simulated without --pkcs11-module"),
        _ => ExistingFile(path, "--master-key"),
    };

    private static string? ExistingFile(string? path, string option) => path switch
    {
        null => null,
        _ when !File.Exists(path) => throw new CliException($"{option} {path} does not exist"),
        _ when !OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode)0b000_111_111) != 0 =>
            throw new CliException($"{option} {path} is accessible to group or others; a secret file must be 0600 or 0400"),
        _ => Path.GetFullPath(path),
    };

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
