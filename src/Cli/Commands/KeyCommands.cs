using System.CommandLine;
using System.Security.Cryptography;
using Enclave.Cli.DataOwner;
using Enclave.Crypto;
using Enclave.KeyBroker.Policy;
using Enclave.Protocol.Broker;
using Enclave.Protocol.Round;
using Grpc.Core;
using Grpc.Net.Client;

namespace Enclave.Cli.Commands;

/// <summary>The data owner's verbs for data keys and release policies.</summary>
internal static class KeyCommands
{
    public static Command Create()
    {
        var key = new Command("key", "Register data keys with the broker and write release policies.");

        var issuer = new Option<string>("--verifier-issuer") { Required = true, Description = "verifier issuer URL allowed as authority" };
        var measurements = new Option<string[]>("--measurement") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "allowed enclave measurement (repeat)" };
        var regions = new Option<string[]>("--region") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "region in which the key may be released (repeat)" };
        var allowSimulated = new Option<bool>("--allow-simulated") { Description = "allow SIMULATED enclaves (local development only)" };
        var plans = new Option<string[]>("--allow-plan") { AllowMultipleArgumentsPerToken = true, Description = "training plan hash the key may be used for (enclave plan hash; repeat); without it any plan" };
        var maxEpsilon = new Option<double?>("--max-epsilon") { Description = "the dataset's privacy budget: total ε (at --delta) its releases may spend; a plan without record-level DP is then refused" };
        var delta = new Option<double>("--delta") { Description = "the δ at which --max-epsilon is counted", DefaultValueFactory = _ => 1e-5 };
        var output = new Option<string>("--out") { Description = "write the policy here instead of stdout" };
        var policy = new Command("policy", "Write a release policy: measurement, no debug, up-to-date TCB, region, the training plans allowed and a privacy budget.")
        {
            issuer, measurements, regions, allowSimulated, plans, maxEpsilon, delta, output,
        };
        policy.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string json = BuildPolicy(parse.GetValue(issuer)!, parse.GetValue(measurements)!, parse.GetValue(regions)!, parse.GetValue(allowSimulated), parse.GetValue(plans),
                parse.GetValue(maxEpsilon) is { } epsilon ? (epsilon, parse.GetValue(delta)) : null);
            if (parse.GetValue(output) is { } path)
            {
                File.WriteAllText(path, json);
            }
            else
            {
                Console.WriteLine(json);
            }

            return Task.FromResult(0);
        }));

        var broker = new Option<string>("--broker") { Required = true, Description = "key broker gRPC URL" };
        var name = new Option<string>("--name") { Required = true, Description = "short key name ([a-z0-9-]); the key's id is {owner thumbprint}/{name}" };
        var keyFile = new Option<string>("--key-file") { Required = true, Description = "the 32-byte data key" };
        var ownerKey = new Option<string>("--owner-key") { Required = true, Description = "owner's signing key (PEM); its thumbprint namespaces the key id" };
        var policyFile = new Option<string>("--policy") { Required = true, Description = "release policy JSON" };
        var register = new Command("register", "Register a data key under a release policy (the key travels as a JWE to the broker's import key); prints the full key id that releases name.") { broker, name, keyFile, ownerKey, policyFile };
        var registerTls = new ClientTls();
        registerTls.AddTo(register);
        register.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            using Enclave.Hosting.TlsSettings? tls = registerTls.Resolve(parse);
            byte[] dataKey = File.ReadAllBytes(parse.GetValue(keyFile)!);
            try
            {
                using ECDsa owner = KeyFiles.ReadSigningKey(parse.GetValue(ownerKey)!);
                string keyId = await RegisterAsync(CliErrors.ParseUri(parse.GetValue(broker)!, "--broker"), owner, parse.GetValue(name)!, File.ReadAllText(parse.GetValue(policyFile)!), dataKey, tls, cancellationToken).ConfigureAwait(false);
                Console.WriteLine(keyId);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }

            return 0;
        }));

        var host = new Option<string>("--host") { Required = true, Description = "regional host gRPC URL" };
        var probeName = new Option<string>("--name") { Required = true, Description = "full key id to probe ({owner thumbprint}/{name}, as `key register` printed it)" };
        var probe = new Command("probe", "Ask a host's enclave to attest and request a key, without training: shows grant or denial.") { host, probeName };
        var probeTls = new ClientTls();
        probeTls.AddTo(probe);
        probe.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            using Enclave.Hosting.TlsSettings? tls = probeTls.Resolve(parse);
            ProbeReleaseResponse response = await ProbeAsync(CliErrors.ParseUri(parse.GetValue(host)!, "--host"), parse.GetValue(probeName)!, tls, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(response.Granted
                ? $"granted to {response.TokenId} ({response.Region}, measurement {response.Measurement})"
                : $"denied: {response.Failure?.Code} {response.Failure?.Message}");
            return response.Granted ? 0 : 1;
        }));

        key.Subcommands.Add(policy);
        key.Subcommands.Add(register);
        key.Subcommands.Add(probe);
        key.Subcommands.Add(CreateRotate());
        key.Subcommands.Add(CreateUpdatePolicy());
        key.Subcommands.Add(CreateSetEnabled("disable", enabled: false));
        key.Subcommands.Add(CreateSetEnabled("enable", enabled: true));
        key.Subcommands.Add(CreateDelete());
        return key;
    }

    /// <summary>Sends a signed owner request (any operation) to the broker's ManageKey RPC.</summary>
    public static async Task<ManageKeyResponse> ManageAsync(Uri broker, Func<Jwk, (string OwnerJwk, string SignedRequest)> sign, Enclave.Hosting.TlsSettings? tls, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = CliChannel.Create(broker, tls);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        try
        {
            Jwk importKey = Jwk.Parse((await client.GetImportKeyAsync(new GetImportKeyRequest(), cancellationToken: cancellationToken).ConfigureAwait(false)).Jwk);
            (string ownerJwk, string signed) = sign(importKey);
            return await client.ManageKeyAsync(new SignedOwnerRequest { OwnerKey = ownerJwk, SignedRequest = signed }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw new CliException($"the broker refused ({CliChannel.Describe(ex)})");
        }
    }

    private static (Option<string> Broker, Option<string> Name, Option<string> Owner) OwnerOptions() =>
    (
        new Option<string>("--broker") { Required = true, Description = "key broker gRPC URL" },
        new Option<string>("--name") { Required = true, Description = "short key name ([a-z0-9-]) of one of the owner's keys" },
        new Option<string>("--owner-key") { Required = true, Description = "owner's signing key (PEM), the one that registered the key" }
    );

    private static Command Managed(Command command, Option<string> broker, Option<string> name, Option<string> owner, Func<ParseResult, ECDsa, string, Jwk, (string, string)> sign)
    {
        command.Options.Add(broker);
        command.Options.Add(name);
        command.Options.Add(owner);
        var clientTls = new ClientTls();
        clientTls.AddTo(command);
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            using Enclave.Hosting.TlsSettings? tls = clientTls.Resolve(parse);
            using ECDsa ownerKey = KeyFiles.ReadSigningKey(parse.GetValue(owner)!);
            string keyName = parse.GetValue(name)!;
            ManageKeyResponse response = await ManageAsync(
                CliErrors.ParseUri(parse.GetValue(broker)!, "--broker"), importKey => sign(parse, ownerKey, keyName, importKey), tls, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"{response.Detail} (audit receipt {response.ReceiptId})");
            return 0;
        }));
        return command;
    }

    private static Command CreateRotate()
    {
        (Option<string> broker, Option<string> name, Option<string> owner) = OwnerOptions();
        var keyFile = new Option<string>("--key-file") { Required = true, Description = "the new 32-byte data key" };
        var policyFile = new Option<string>("--policy") { Description = "a new release policy JSON (default: keep the latest)" };
        var rotate = new Command("rotate", "Add a new version with a new data key; releases use it from now on.") { keyFile, policyFile };
        return Managed(rotate, broker, name, owner, (parse, ownerKey, keyName, importKey) =>
        {
            byte[] dataKey = File.ReadAllBytes(parse.GetValue(keyFile)!);
            try
            {
                string? policyPath = parse.GetValue(policyFile);
                return OwnerRequests.Rotate(ownerKey, keyName, dataKey, policyPath is null ? null : File.ReadAllText(policyPath), importKey);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }
        });
    }

    private static Command CreateUpdatePolicy()
    {
        (Option<string> broker, Option<string> name, Option<string> owner) = OwnerOptions();
        var policyFile = new Option<string>("--policy") { Required = true, Description = "the new release policy JSON" };
        var update = new Command("update-policy", "Replace the release policy of the latest version.") { policyFile };
        return Managed(update, broker, name, owner, (parse, ownerKey, keyName, importKey) =>
            OwnerRequests.UpdatePolicy(ownerKey, keyName, File.ReadAllText(parse.GetValue(policyFile)!), importKey));
    }

    private static Command CreateSetEnabled(string verb, bool enabled)
    {
        (Option<string> broker, Option<string> name, Option<string> owner) = OwnerOptions();
        var command = new Command(verb, enabled ? "Re-enable the latest version of a key." : "Disable the latest version: no release until re-enabled.");
        return Managed(command, broker, name, owner, (_, ownerKey, keyName, importKey) => OwnerRequests.SetEnabled(ownerKey, keyName, enabled, importKey));
    }

    private static Command CreateDelete()
    {
        (Option<string> broker, Option<string> name, Option<string> owner) = OwnerOptions();
        var command = new Command("delete", "Delete a key: no version is released again; the name stays yours.");
        return Managed(command, broker, name, owner, (_, ownerKey, keyName, importKey) => OwnerRequests.Delete(ownerKey, keyName, importKey));
    }

    public static string BuildPolicy(string issuer, IEnumerable<string> measurements, IEnumerable<string> regions, bool allowSimulated, IEnumerable<string>? plans = null, (double MaxEpsilon, double Delta)? budget = null)
    {
        var builder = new EnclaveReleasePolicyBuilder(issuer);
        if (budget is { } b)
        {
            try
            {
                builder.LimitPrivacy(b.MaxEpsilon, b.Delta);
            }
            catch (ArgumentOutOfRangeException)
            {
                throw new CliException($"--max-epsilon must be in (0, 100] and --delta in (0, 0.01]; got {b.MaxEpsilon} and {b.Delta}");
            }
        }

        foreach (string plan in plans ?? [])
        {
            try
            {
                builder.AllowPlan(plan);
            }
            catch (ArgumentException)
            {
                throw new CliException($"--allow-plan {plan} is not a plan hash (64 hex digits, as enclave plan hash prints)");
            }
        }

        foreach (string m in measurements)
        {
            builder.AllowMeasurement(m);
        }

        foreach (string r in regions)
        {
            builder.AllowRegion(r);
        }

        builder.AllowAttestationType("sgx");
        if (allowSimulated)
        {
            builder.AllowAttestationType("simulated");
        }

        builder.AllowTcbStatus("UpToDate");
        return builder.ToJson();
    }

    /// <summary>Registers <paramref name="dataKey"/> under the short <paramref name="name"/> and returns the key's full
    /// id, <c>{owner thumbprint}/{name}</c>, which releases (and probes) name.</summary>
    public static async Task<string> RegisterAsync(Uri broker, ECDsa owner, string name, string policyJson, byte[] dataKey, Enclave.Hosting.TlsSettings? tls, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = CliChannel.Create(broker, tls);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        try
        {
            Jwk importKey = Jwk.Parse((await client.GetImportKeyAsync(new GetImportKeyRequest(), cancellationToken: cancellationToken).ConfigureAwait(false)).Jwk);
            (string ownerJwk, string signed) = OwnerRequests.Register(owner, name, policyJson, dataKey, importKey);
            RegisterKeyResponse response = await client.RegisterKeyAsync(new SignedOwnerRequest { OwnerKey = ownerJwk, SignedRequest = signed }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return response.KeyName;
        }
        catch (RpcException ex)
        {
            throw new CliException($"registration refused ({CliChannel.Describe(ex)})");
        }
    }

    public static async Task<ProbeReleaseResponse> ProbeAsync(Uri host, string name, Enclave.Hosting.TlsSettings? tls, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = CliChannel.Create(host, tls);
        var client = new RegionHost.RegionHostClient(channel);
        try
        {
            return await client.ProbeReleaseAsync(new ProbeReleaseRequest { KeyName = name }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw new CliException($"the host could not probe ({CliChannel.Describe(ex)})");
        }
    }
}
