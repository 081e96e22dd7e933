using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Tests.Support;
using Enclave.KeyBroker.Tokens;
using Enclave.Testing;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using TempDirectory = Enclave.KeyBroker.Tests.Support.TempDirectory;

namespace Enclave.KeyBroker.Tests;

/// <summary>Broker key material from configured secret files: never created, owner-only, the right kind of key; two
/// brokers given the same files issue interchangeable nonces and publish the same keys.</summary>
public sealed class ConfiguredKeyFileTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 15, 10, 0, 0, TimeSpan.Zero));

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void Two_openings_of_the_same_files_share_nonces_import_key_and_audit_key()
    {
        (string import, string audit, string nonce) = WriteFiles();
        using BrokerKeyMaterial a = BrokerKeyMaterial.FromFiles(import, audit, nonce, _time);
        using BrokerKeyMaterial b = BrokerKeyMaterial.FromFiles(import, audit, nonce, _time);

        Assert.Equal(a.ImportKey.KeyId, b.ImportKey.KeyId);
        Assert.Equal(a.AuditKey.PublicJwk.Kid, b.AuditKey.PublicJwk.Kid);
        string issued = a.Nonces.Issue(TimeSpan.FromMinutes(5));
        Assert.Equal(NonceStatus.Valid, b.Nonces.Check(issued, _time.GetUtcNow(), out _));
        byte[] dataKey = RandomNumberGenerator.GetBytes(32);
        Assert.Equal(dataKey, b.ImportKey.Decrypt(Jwe.Encrypt(dataKey, a.ImportKey.PublicJwk)));
        Assert.False(File.Exists(_directory.Combine(NonceStore.DefaultKeyFileName)));
    }

    [Fact]
    public void Configured_files_are_never_created_and_must_be_owner_only_and_of_the_right_kind()
    {
        (string import, string audit, string nonce) = WriteFiles();
        string missing = _directory.Combine("missing.pem");
        Assert.Throws<FileNotFoundException>(() => BrokerKeyMaterial.FromFiles(missing, audit, nonce, _time));
        Assert.False(File.Exists(missing));
        Assert.Throws<FileNotFoundException>(() => NonceStore.Load(missing, _time));

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(audit, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
            Assert.Throws<InvalidOperationException>(() => BrokerKeyMaterial.FromFiles(import, audit, nonce, _time));
            File.SetUnixFileMode(audit, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        Assert.Throws<InvalidDataException>(() => BrokerImportKey.Load(Secret("short.bin", new byte[31])));
        Assert.Throws<InvalidDataException>(() => NonceStore.Load(Secret("short-nonce.bin", new byte[31]), _time));
        using var rsa = RSA.Create(2048);
        Assert.Throws<InvalidDataException>(() => AuditSigningKey.Load(Secret("rsa.pem", Encoding.ASCII.GetBytes(rsa.ExportPkcs8PrivateKeyPem()))));
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Assert.Throws<InvalidDataException>(() => AuditSigningKey.Load(Secret("p384.pem", Encoding.ASCII.GetBytes(p384.ExportPkcs8PrivateKeyPem()))));
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Assert.Throws<InvalidDataException>(() => AuditSigningKey.Load(Secret("public.pem", Encoding.ASCII.GetBytes(p256.ExportSubjectPublicKeyInfoPem()))));
        // SEC1 ("EC PRIVATE KEY", as openssl ecparam -genkey writes it) is accepted as well as PKCS#8.
        Assert.Equal(Jwk.FromEcPublic(p256.ExportParameters(false)).ComputeThumbprint(),
            AuditSigningKey.Load(Secret("sec1.pem", Encoding.ASCII.GetBytes(p256.ExportECPrivateKeyPem()))).PublicJwk.Kid);
    }

    [Fact]
    public async Task Two_brokers_on_one_store_with_the_same_files_take_each_others_nonces_and_owner_requests()
    {
        (string import, string audit, string nonce) = WriteFiles();
        string master = Secret("master.bin", RandomNumberGenerator.GetBytes(32));
        using var store = new Storage.SqliteKeyBrokerStore(Storage.SqliteKeyBrokerStore.ConnectionStringFor(_directory.Path));
        using var harness = new BrokerHarness(simulatedMode: true);
        KeyBrokerOptions Options(string dir) => new()
        {
            DataDirectory = _directory.Combine(dir),
            TrustedIssuers = [BrokerHarness.Issuer],
            SimulatedMode = true,
            Time = harness.Time,
            ImportKeyFile = import,
            AuditSigningKeyFile = audit,
            NonceKeyFile = nonce,
            MasterKeyFile = master,
        };
        using var a = new KeyBrokerService(Options("a"), harness.VerifierKeys, store: store);
        using var b = new KeyBrokerService(Options("b"), harness.VerifierKeys, store: store);
        Assert.Equal(a.ImportKey.Kid, b.ImportKey.Kid);
        Assert.Equal(a.AuditPublicKey.Kid, b.AuditPublicKey.Kid);

        byte[] dataKey = BrokerHarness.NewDataKey();
        System.Text.Json.Nodes.JsonObject payload = harness.RegisterPayload(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy(), dataKey);
        payload["aud"] = a.ImportKey.Kid;
        payload["key"] = Jwe.Encrypt(dataKey, a.ImportKey);
        string registration = BrokerHarness.Sign(harness.OwnerKey, payload);
        Assert.True(b.HandleOwnerRequest(BrokerHarness.PublicJwkJson(harness.OwnerKey), registration).Succeeded);

        string fromA = a.IssueNonce().Value;
        ReleaseOutcome atB = await b.ReleaseAsync(harness.DefaultKeyId, harness.IssueToken(harness.Claims(fromA)));
        Assert.True(atB.IsGranted, atB.Detail);
        Assert.Equal(dataKey, Jwe.Decrypt(atB.WrappedKey!, harness.EnclaveEncryptionKey));
        ReleaseOutcome replayAtA = await a.ReleaseAsync(harness.DefaultKeyId, harness.IssueToken(harness.Claims(fromA)));
        Assert.Equal(ReasonCode.NonceReplayed, replayAtA.Reason);
        Assert.True(a.VerifyAudit().IsValid);
        Assert.False(File.Exists(Path.Combine(_directory.Combine("b"), FileMasterKey.DefaultFileName)));
    }

    [Fact]
    public void Half_configured_files_and_file_master_keys_outside_simulated_mode_are_refused()
    {
        (string import, _, _) = WriteFiles();
        var options = new KeyBrokerOptions { DataDirectory = _directory.Path, TrustedIssuers = [BrokerHarness.Issuer], SimulatedMode = true, ImportKeyFile = import };
        Assert.Throws<ArgumentException>(options.Validate);
        Assert.Throws<ArgumentException>(new KeyBrokerOptions { DataDirectory = _directory.Path, TrustedIssuers = [BrokerHarness.Issuer], KeySource = BrokerKeySource.Pkcs11, SimulatedMode = true }.Validate);
        Assert.Throws<ArgumentException>(new KeyBrokerOptions { DataDirectory = _directory.Path, TrustedIssuers = [BrokerHarness.Issuer], MasterKeyFile = import }.Validate);
        Assert.Throws<InvalidOperationException>(() => FileMasterKey.Load(import, simulatedMode: false));
    }

    private (string Import, string Audit, string Nonce) WriteFiles()
    {
        using var import = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using var audit = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return (Secret("import.pem", Encoding.ASCII.GetBytes(import.ExportPkcs8PrivateKeyPem())),
            Secret("audit.pem", Encoding.ASCII.GetBytes(audit.ExportPkcs8PrivateKeyPem())),
            Secret("nonce.bin", RandomNumberGenerator.GetBytes(32)));
    }

    private string Secret(string name, byte[] content)
    {
        string path = _directory.Combine("secret-" + name);
        File.WriteAllBytes(path, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return path;
    }
}

/// <summary>Broker key material as objects in the master key's PKCS#11 token (SoftHSM2): non-extractable, found
/// again by a second opening, and doing ECDH, ECDSA and HMAC in the token.</summary>
[RequiresEnvironment(Pkcs11MasterKeyTests.ModuleVariable, Pkcs11MasterKeyTests.TokenVariable, Pkcs11MasterKeyTests.PinVariable)]
[Collection(Pkcs11MasterKeyTests.Collection)]
public sealed class Pkcs11BrokerKeysTests : IDisposable
{
    private readonly string _label = "test-" + Guid.NewGuid().ToString("N");
    private readonly ManualTimeProvider _time = new(new DateTimeOffset(2026, 1, 15, 10, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        if (RequiresEnvironmentAttributeMissing())
        {
            return;
        }

        WithSession(session =>
        {
            foreach (string label in new[] { _label, Pkcs11BrokerKeys.ImportLabel(_label), Pkcs11BrokerKeys.AuditLabel(_label), Pkcs11BrokerKeys.NonceLabel(_label) })
            {
                foreach (IObjectHandle handle in session.FindAllObjects([new Pkcs11InteropFactories().ObjectAttributeFactory.Create(CKA.CKA_LABEL, label)]))
                {
                    session.DestroyObject(handle);
                }
            }
        });
    }

    [EnvironmentFact]
    public void Keys_created_by_one_broker_are_found_and_used_by_another()
    {
        // One PKCS#11 library per process at a time (Pkcs11Interop finalizes the module on dispose): the first broker
        // creates the keys and is closed, the second finds them.
        byte[] dataKey = RandomNumberGenerator.GetBytes(32);
        Jwk importKey, auditKey;
        string nonce, jwe, jws;
        using (Pkcs11MasterKey masterA = Pkcs11MasterKey.Open(MasterOptions()))
        using (BrokerKeyMaterial a = Pkcs11BrokerKeys.Open(masterA, _label, _time))
        {
            importKey = a.ImportKey.PublicJwk;
            auditKey = a.AuditKey.PublicJwk;
            nonce = a.Nonces.Issue(TimeSpan.FromMinutes(5));
            jwe = Jwe.Encrypt(dataKey, importKey);
            jws = Jws.Sign("{\"treeSize\":0}"u8, a.AuditKey.Key, auditKey.Kid, SignedTreeHead.JwsType);
            Assert.Throws<CryptographicException>(() => a.AuditKey.Key.ExportParameters(true));
        }

        using Pkcs11MasterKey masterB = Pkcs11MasterKey.Open(MasterOptions() with { CreateIfMissing = false });
        using BrokerKeyMaterial b = Pkcs11BrokerKeys.Open(masterB, _label, _time, createIfMissing: false);
        Assert.Equal(importKey.Kid, b.ImportKey.KeyId);
        Assert.Equal(auditKey.Kid, b.AuditKey.PublicJwk.Kid);
        Assert.Equal(NonceStatus.Valid, b.Nonces.Check(nonce, _time.GetUtcNow(), out _));
        using NonceStore other = NonceStore.CreateEphemeral(_time);
        Assert.Equal(NonceStatus.Unknown, other.Check(nonce, _time.GetUtcNow(), out _));
        Assert.Equal(dataKey, b.ImportKey.Decrypt(jwe));
        using var stranger = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        Assert.Throws<JoseException>(() => b.ImportKey.Decrypt(Jwe.Encrypt(dataKey, Jwk.FromEcPublic(stranger.ExportParameters(false), "x", "enc"))));
        Assert.Equal("{\"treeSize\":0}", Encoding.UTF8.GetString(Jws.Verify(jws, _ => b.AuditKey.PublicJwk).Payload));
        string again = Jws.Sign("{}"u8, b.AuditKey.Key, auditKey.Kid, SignedTreeHead.JwsType);
        Assert.Equal("{}", Encoding.UTF8.GetString(Jws.Verify(again, _ => auditKey).Payload));
    }

    [EnvironmentFact]
    public void Private_keys_are_sensitive_and_never_extractable()
    {
        using (Pkcs11MasterKey master = Pkcs11MasterKey.Open(MasterOptions()))
        using (Pkcs11BrokerKeys.Open(master, _label, _time))
        {
        }

        WithSession(session =>
        {
            var attributes = new Pkcs11InteropFactories().ObjectAttributeFactory;
            foreach ((string label, CKO cls) in new[] { (Pkcs11BrokerKeys.ImportLabel(_label), CKO.CKO_PRIVATE_KEY), (Pkcs11BrokerKeys.AuditLabel(_label), CKO.CKO_PRIVATE_KEY), (Pkcs11BrokerKeys.NonceLabel(_label), CKO.CKO_SECRET_KEY) })
            {
                IObjectHandle key = Assert.Single(session.FindAllObjects([attributes.Create(CKA.CKA_CLASS, cls), attributes.Create(CKA.CKA_LABEL, label)]));
                List<IObjectAttribute> values = session.GetAttributeValue(key, [CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_TOKEN, CKA.CKA_VALUE]);
                Assert.True(values[0].GetValueAsBool(), label);
                Assert.False(values[1].GetValueAsBool(), label);
                Assert.True(values[2].GetValueAsBool(), label);
                Assert.True(values[3].CannotBeRead, label);
            }
        });
    }

    [EnvironmentFact]
    public void A_missing_key_is_an_error_when_creation_is_off()
    {
        using Pkcs11MasterKey master = Pkcs11MasterKey.Open(MasterOptions());
        Assert.Equal(MasterKeyError.KeyNotFound,
            Assert.Throws<MasterKeyException>(() => Pkcs11BrokerKeys.Open(master, _label, _time, createIfMissing: false)).Error);
    }

    private static bool RequiresEnvironmentAttributeMissing() =>
        string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Pkcs11MasterKeyTests.ModuleVariable))
        || string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Pkcs11MasterKeyTests.TokenVariable))
        || string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Pkcs11MasterKeyTests.PinVariable));

    private Pkcs11MasterKeyOptions MasterOptions() => new()
    {
        ModulePath = Env(Pkcs11MasterKeyTests.ModuleVariable),
        TokenLabel = Env(Pkcs11MasterKeyTests.TokenVariable),
        Pin = Env(Pkcs11MasterKeyTests.PinVariable),
        KeyLabel = _label,
    };

    private static void WithSession(Action<ISession> action)
    {
        System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(Pkcs11MasterKey).TypeHandle);
        var factories = new Pkcs11InteropFactories();
        using IPkcs11Library library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, Env(Pkcs11MasterKeyTests.ModuleVariable), AppType.MultiThreaded);
        ISlot slot = library.GetSlotList(SlotsType.WithTokenPresent).Single(s => s.GetTokenInfo().Label.Trim() == Env(Pkcs11MasterKeyTests.TokenVariable));
        using ISession session = slot.OpenSession(SessionType.ReadWrite);
        session.Login(CKU.CKU_USER, Env(Pkcs11MasterKeyTests.PinVariable));
        try
        {
            action(session);
        }
        finally
        {
            session.Logout();
        }
    }

    private static string Env(string name) => Environment.GetEnvironmentVariable(name)!;
}
