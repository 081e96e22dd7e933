using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Bench;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Storage;
using Enclave.Protocol.Broker;
using Enclave.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using Npgsql;
using Xunit.Abstractions;
using static Enclave.Integration.Tests.BrokerAttackSupport;

namespace Enclave.Integration.Tests;

/// <summary>Two `enclave serve broker` processes, each with a data directory of its own (nothing copied between
/// them), on one PostgreSQL schema and one SoftHSM2 token (master key), sharing the import, audit signing and nonce
/// keys either as token objects (--pkcs11-broker-keys) or as configured secret files. A key registered through one is
/// released concurrently through both, with nonces taken from either broker, and `enclave audit verify` over the
/// PostgreSQL store verifies one log holding every grant exactly once.</summary>
[RequiresEnvironment("ENCLAVE_TEST_POSTGRES", PinVariable, "ENCLAVE_TEST_PKCS11_MODULE", "ENCLAVE_TEST_PKCS11_TOKEN")]
public sealed class BrokerClusterTests
{
    private const string PinVariable = "ENCLAVE_TEST_PKCS11_PIN";
    private const string Issuer = "https://verifier.cluster.test";
    private const string KeyName = "cluster-key";
    private const int ReleasesPerBroker = 50;
    private const int WorkersPerBroker = 8;

    private readonly ITestOutputHelper _output;
    private readonly string _labels = "cluster-" + Guid.NewGuid().ToString("N");

    public BrokerClusterTests(ITestOutputHelper output)
    {
        _output = output;
    }

    [EnvironmentFact]
    public Task Two_brokers_with_their_keys_in_the_HSM_release_concurrently_into_one_verified_log() => RunAsync(hsmKeys: true);

    [EnvironmentFact]
    public Task Two_brokers_with_configured_key_files_release_concurrently_into_one_verified_log() => RunAsync(hsmKeys: false);

    private async Task RunAsync(bool hsmKeys)
    {
        using var directory = new TempDirectory("enclave-cluster");
        using var load = new BrokerLoadClient(Issuer);
        using var database = new PostgresSchema();
        string verifierKeys = WriteJwks(directory, "verifier.jwks", load.VerifierKeys);
        string[] keyArguments = hsmKeys
            ? ["--pkcs11-broker-keys", "--pkcs11-broker-key-label", _labels]
            : ["--import-key", WriteSecret(directory, "import.pem", PemOfNewKey()),
               "--audit-signing-key", WriteSecret(directory, "audit.pem", PemOfNewKey()),
               "--nonce-key", WriteSecret(directory, "nonce.bin", RandomNumberGenerator.GetBytes(32))];
        string[] Arguments(string dataDir) =>
        [
            "serve", "broker", "--data-dir", dataDir, "--verifier-issuer", Issuer, "--verifier-keys", verifierKeys,
            "--store", "postgres", "--postgres", database.ConnectionString,
            "--pkcs11-module", Env("ENCLAVE_TEST_PKCS11_MODULE"), "--pkcs11-token", Env("ENCLAVE_TEST_PKCS11_TOKEN"),
            "--pkcs11-pin-env", PinVariable, "--pkcs11-key-label", _labels + "-master",
            .. keyArguments,
        ];

        try
        {
            string dirA = directory.Combine("broker-a");
            string dirB = directory.Combine("broker-b");
            var granted = new ConcurrentBag<Grant>();
            var failures = new ConcurrentBag<string>();
            byte[] dataKey;
            string replayedAtB;

            // A starts first: with --pkcs11-broker-keys it creates the token objects B then finds.
            await using (ServerProcess a = await ServerProcess.StartAsync(Arguments(dirA)))
            await using (ServerProcess b = await ServerProcess.StartAsync(Arguments(dirB)))
            {
                using GrpcChannel channelA = GrpcChannel.ForAddress(a.Ready.Grpc);
                using GrpcChannel channelB = GrpcChannel.ForAddress(b.Ready.Grpc);
                var brokerA = new Protocol.Broker.KeyBroker.KeyBrokerClient(channelA);
                var brokerB = new Protocol.Broker.KeyBroker.KeyBrokerClient(channelB);

                string source = hsmKeys ? "Broker keys from PKCS#11 token objects" : "Broker keys from configured key files";
                foreach (ServerProcess broker in new[] { a, b })
                {
                    string started = await broker.OutputContainingAsync(source, TimeSpan.FromSeconds(10));
                    Assert.True(started.Contains(source, StringComparison.Ordinal), started);
                    _output.WriteLine(started.Split('\n').First(l => l.Contains(source, StringComparison.Ordinal)));
                }

                // The same import key (owners' requests name its kid) and the same published audit key.
                string importA = (await brokerA.GetImportKeyAsync(new GetImportKeyRequest())).Jwk;
                string importB = (await brokerB.GetImportKeyAsync(new GetImportKeyRequest())).Jwk;
                Assert.Equal(Jwk.Parse(importA).Kid, Jwk.Parse(importB).Kid);
                Assert.Equal(Jwk.Parse(ReadText(dirA, "audit.jwk")).ComputeThumbprint(), Jwk.Parse(ReadText(dirB, "audit.jwk")).ComputeThumbprint());
                Assert.False(File.Exists(Path.Combine(dirB, BrokerImportKey.DefaultFileName)), "broker B created its own import key");
                Assert.False(File.Exists(Path.Combine(dirB, AuditSigningKey.DefaultFileName)), "broker B created its own audit key");
                Assert.False(File.Exists(Path.Combine(dirB, "nonce.key")), "broker B created its own nonce key");

                // Registered through A; an owner request encrypted to B's import key works the same (B checks the aud).
                dataKey = await load.RegisterKeyAsync(brokerA, KeyName);
                string keyId = load.KeyId(KeyName);

                // A nonce issued by A is accepted by B once; its second use, at A, is a replay.
                string crossNonce = (await brokerA.GetNonceAsync(new GetNonceRequest())).Nonce;
                Grant first = await ReleaseAsync(load, brokerB, keyId, crossNonce, "B", "A", dataKey);
                granted.Add(first);
                RpcException replay = await Assert.ThrowsAsync<RpcException>(async () =>
                    await brokerA.ReleaseKeyAsync(new ReleaseKeyRequest { KeyName = keyId, AttestationToken = load.Token(crossNonce, out _) }));
                Assert.Equal("NonceReplayed", ReasonCode(replay));
                replayedAtB = first.TokenId;

                // 50 releases through each broker at once; every other one uses a nonce the other broker issued.
                async Task Burst(string name, Protocol.Broker.KeyBroker.KeyBrokerClient self, Protocol.Broker.KeyBroker.KeyBrokerClient other)
                {
                    int next = -1;
                    await Task.WhenAll(Enumerable.Range(0, WorkersPerBroker).Select(_ => Task.Run(async () =>
                    {
                        for (int i = Interlocked.Increment(ref next); i < ReleasesPerBroker; i = Interlocked.Increment(ref next))
                        {
                            bool cross = i % 2 == 0;
                            try
                            {
                                string nonce = (await (cross ? other : self).GetNonceAsync(new GetNonceRequest())).Nonce;
                                granted.Add(await ReleaseAsync(load, self, keyId, nonce, name, cross ? (name == "A" ? "B" : "A") : name, dataKey));
                            }
                            catch (RpcException e)
                            {
                                failures.Add($"{name} #{i}: {e.StatusCode} {ReasonCode(e)} {e.Status.Detail}");
                            }
                        }
                    })));
                }

                await Task.WhenAll(Burst("A", brokerA, brokerB), Burst("B", brokerB, brokerA)).WaitAsync(TimeSpan.FromMinutes(3));
                Assert.True(failures.IsEmpty, string.Join("; ", failures) + "\nA: " + Tail(a.Output) + "\nB: " + Tail(b.Output));
            }

            Assert.Equal((2 * ReleasesPerBroker) + 1, granted.Count);
            Assert.Equal(ReleasesPerBroker + 1, granted.Count(g => g.Broker == "B"));
            Assert.True(granted.Count(g => g.Broker != g.NonceFrom) >= ReleasesPerBroker, "half the releases used the other broker's nonce");

            CliResult verify = await CliRunner.RunAsync(TimeSpan.FromMinutes(2),
                "audit", "verify", "--postgres", database.ConnectionString, "--audit-key", Path.Combine(dirA, "audit.jwk"), "--json");
            _output.WriteLine(verify.Output);
            Assert.True(verify.ExitCode == 0, verify.Output + verify.Error);
            JsonObject result = JsonNode.Parse(verify.Output)!.AsObject();
            Assert.True(result["verified"]!.GetValue<bool>(), verify.Output);

            // One log: every grant's receipt is exactly one ReleaseGranted entry, for that token; nothing else was granted.
            using IKeyBrokerStore store = new PostgresKeyBrokerStore(database.ConnectionString);
            using AuditSigningKey reader = AuditSigningKey.CreateEphemeral();
            AuditEntry[] entries = [.. new AuditLog(store, reader, TimeProvider.System).ReadEntries()];
            Assert.Equal(result["entries"]!.GetValue<long>(), entries.Length);
            AuditEntry[] grants = entries.Where(e => e.Kind == nameof(AuditEntryKind.ReleaseGranted)).ToArray();
            Assert.Equal(granted.Count, grants.Length);
            Dictionary<string, AuditEntry> byReceipt = grants.ToDictionary(e => e.Id);
            Assert.All(granted, g =>
            {
                Assert.True(byReceipt.TryGetValue(g.ReceiptId, out AuditEntry? entry), $"grant {g.ReceiptId} has no audit record");
                Assert.Equal(g.TokenId, JsonNode.Parse(entry!.Body)!["jti"]!.GetValue<string>());
            });
            Assert.Equal(granted.Count, granted.Select(g => g.TokenId).Distinct().Count());
            Assert.Single(entries, e => e.Kind == nameof(AuditEntryKind.ReleaseDenied) && e.Body.Contains("NonceReplayed", StringComparison.Ordinal));
            Assert.Contains(entries, e => JsonNode.Parse(e.Body)?["jti"]?.GetValue<string>() == replayedAtB);
        }
        finally
        {
            DestroyTokenObjects(_labels);
        }
    }

    /// <summary>A token for <paramref name="nonce"/>, ReleaseKey at <paramref name="broker"/>; the grant must carry the
    /// registered data key (a denial throws <see cref="RpcException"/>).</summary>
    private static async Task<Grant> ReleaseAsync(BrokerLoadClient load, Protocol.Broker.KeyBroker.KeyBrokerClient broker, string keyId,
        string nonce, string brokerName, string nonceFrom, byte[] dataKey)
    {
        string token = load.Token(nonce, out string tokenId);
        ReleaseKeyResponse response = await broker.ReleaseKeyAsync(new ReleaseKeyRequest { KeyName = keyId, AttestationToken = token });
        Assert.Equal(dataKey, load.DecryptKey(response.WrappedKey));
        Assert.False(string.IsNullOrEmpty(response.ReceiptId));
        return new Grant(tokenId, response.ReceiptId, brokerName, nonceFrom);
    }

    private sealed record Grant(string TokenId, string ReceiptId, string Broker, string NonceFrom);

    private static string Tail(string output) => string.Join(" | ", output.Split('\n')
        .Where(l => !l.Contains(" info: ", StringComparison.Ordinal) && !l.Contains("Microsoft.AspNetCore", StringComparison.Ordinal)).TakeLast(20));

    private static string ReadText(string dir, string file) => File.ReadAllText(Path.Combine(dir, file));

    private static string Env(string name) => Environment.GetEnvironmentVariable(name)!;

    private static byte[] PemOfNewKey()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return System.Text.Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Writes a secret as a mounted Secret with defaultMode 0400/0600 would appear: owner-only.</summary>
    private static string WriteSecret(TempDirectory directory, string name, byte[] content)
    {
        string path = directory.Combine(name);
        File.WriteAllBytes(path, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }

    /// <summary>Removes this test's master and broker key objects from the shared SoftHSM2 token.</summary>
    private static void DestroyTokenObjects(string labelPrefix)
    {
        // Pkcs11MasterKey's static constructor installs the libdl resolver Pkcs11Interop needs on current glibc.
        RuntimeHelpers.RunClassConstructor(typeof(Pkcs11MasterKey).TypeHandle);
        var factories = new Pkcs11InteropFactories();
        using IPkcs11Library library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, Env("ENCLAVE_TEST_PKCS11_MODULE"), AppType.MultiThreaded);
        ISlot slot = library.GetSlotList(SlotsType.WithTokenPresent).Single(s => s.GetTokenInfo().Label.Trim() == Env("ENCLAVE_TEST_PKCS11_TOKEN"));
        using ISession session = slot.OpenSession(SessionType.ReadWrite);
        session.Login(CKU.CKU_USER, Env(PinVariable));
        foreach (string label in new[] { labelPrefix + "-master", Pkcs11BrokerKeys.ImportLabel(labelPrefix), Pkcs11BrokerKeys.AuditLabel(labelPrefix), Pkcs11BrokerKeys.NonceLabel(labelPrefix) })
        {
            foreach (IObjectHandle handle in session.FindAllObjects([factories.ObjectAttributeFactory.Create(CKA.CKA_LABEL, label)]))
            {
                session.DestroyObject(handle);
            }
        }
    }

    /// <summary>A private schema in the ENCLAVE_TEST_POSTGRES database, dropped afterwards.</summary>
    private sealed class PostgresSchema : IDisposable
    {
        private readonly string _admin = Environment.GetEnvironmentVariable("ENCLAVE_TEST_POSTGRES")!;
        private readonly string _schema = "cluster_" + Guid.NewGuid().ToString("N");

        public PostgresSchema()
        {
            Run($"CREATE SCHEMA {_schema}");
            ConnectionString = new NpgsqlConnectionStringBuilder(_admin) { SearchPath = _schema }.ConnectionString;
        }

        public string ConnectionString { get; }

        public void Dispose() => Run($"DROP SCHEMA IF EXISTS {_schema} CASCADE");

        private void Run(string sql)
        {
            using var connection = new NpgsqlConnection(_admin);
            connection.Open();
            using NpgsqlCommand command = connection.CreateCommand();
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
    }
}
