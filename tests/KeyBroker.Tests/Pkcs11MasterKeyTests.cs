using System.Security.Cryptography;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Tests.Support;
using Enclave.Testing;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;

namespace Enclave.KeyBroker.Tests;

/// <summary>The PKCS#11 master key against a real token (SoftHSM2, set up by scripts/ci-services.sh).
/// Each test uses its own key label, so tests never see each other's keys.</summary>
[RequiresEnvironment(ModuleVariable, TokenVariable, PinVariable)]
[Collection(Collection)]
public sealed class Pkcs11MasterKeyTests
{
    /// <summary>The PKCS#11 test classes run one after the other: Pkcs11Interop finalizes the module when a library
    /// instance is disposed, which ends every other instance's sessions in the process.</summary>
    public const string Collection = "PKCS#11 token";

    public const string ModuleVariable = "ENCLAVE_TEST_PKCS11_MODULE";
    public const string TokenVariable = "ENCLAVE_TEST_PKCS11_TOKEN";
    public const string PinVariable = "ENCLAVE_TEST_PKCS11_PIN";

    private readonly string _label = "test-" + Guid.NewGuid().ToString("N");

    [EnvironmentFact]
    public void Wrapped_key_unwraps_only_with_the_same_associated_data()
    {
        using Pkcs11MasterKey key = Pkcs11MasterKey.Open(Options());
        byte[] dataKey = RandomNumberGenerator.GetBytes(32);
        byte[] aad = KeyStore.AssociatedData("fashion-eu", 1, "owner", true, "{}");

        byte[] wrapped = key.Wrap(dataKey, aad);

        Assert.Equal(1 + 12 + 32 + 16, wrapped.Length);
        Assert.Equal(2, wrapped[0]);
        Assert.NotEqual(wrapped, key.Wrap(dataKey, aad));
        byte[] output = new byte[32];
        Assert.True(key.TryUnwrap(wrapped, aad, output));
        Assert.Equal(dataKey, output);

        Assert.False(key.TryUnwrap(wrapped, KeyStore.AssociatedData("fashion-eu", 2, "owner", true, "{}"), output));
        Assert.Equal(new byte[32], output);
        Assert.False(key.TryUnwrap(wrapped, KeyStore.AssociatedData("fashion-us", 1, "owner", true, "{}"), output));
        byte[] tampered = (byte[])wrapped.Clone();
        tampered[20] ^= 1;
        Assert.False(key.TryUnwrap(tampered, aad, output));
        Assert.False(key.TryUnwrap(wrapped.AsSpan(0, 40), aad, output));
        byte[] otherFormat = (byte[])wrapped.Clone();
        otherFormat[0] = 1;
        Assert.False(key.TryUnwrap(otherFormat, aad, output));
        Assert.Equal(new byte[32], output);
    }

    [EnvironmentFact]
    public void Key_created_on_first_use_is_found_again_by_label()
    {
        byte[] dataKey = RandomNumberGenerator.GetBytes(32);
        byte[] aad = "name|1"u8.ToArray();
        byte[] wrapped;
        using (Pkcs11MasterKey first = Pkcs11MasterKey.Open(Options()))
        {
            wrapped = first.Wrap(dataKey, aad);
        }

        using Pkcs11MasterKey again = Pkcs11MasterKey.Open(Options() with { CreateIfMissing = false });
        byte[] output = new byte[32];
        Assert.True(again.TryUnwrap(wrapped, aad, output));
        Assert.Equal(dataKey, output);
    }

    [EnvironmentFact]
    public void Key_object_is_sensitive_non_extractable_aes_256()
    {
        using (Pkcs11MasterKey.Open(Options()))
        {
        }

        var factories = new Pkcs11InteropFactories();
        using IPkcs11Library library = factories.Pkcs11LibraryFactory.LoadPkcs11Library(factories, Env(ModuleVariable), AppType.MultiThreaded);
        ISlot slot = library.GetSlotList(SlotsType.WithTokenPresent).Single(s => s.GetTokenInfo().Label.Trim() == Env(TokenVariable));
        using ISession session = slot.OpenSession(SessionType.ReadOnly);
        session.Login(CKU.CKU_USER, Env(PinVariable));
        IObjectHandle key = Assert.Single(session.FindAllObjects([factories.ObjectAttributeFactory.Create(CKA.CKA_LABEL, _label)]));
        List<IObjectAttribute> values = session.GetAttributeValue(key,
            [CKA.CKA_KEY_TYPE, CKA.CKA_VALUE_LEN, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_TOKEN, CKA.CKA_WRAP]);
        Assert.Equal((ulong)CKK.CKK_AES, values[0].GetValueAsUlong());
        Assert.Equal(32UL, values[1].GetValueAsUlong());
        Assert.True(values[2].GetValueAsBool());
        Assert.False(values[3].GetValueAsBool());
        Assert.True(values[4].GetValueAsBool());
        Assert.False(values[5].GetValueAsBool());
        IObjectAttribute value = session.GetAttributeValue(key, [CKA.CKA_VALUE])[0];
        Assert.True(value.CannotBeRead);
        session.Logout();
    }

    [EnvironmentFact]
    public void Configuration_faults_are_typed()
    {
        Assert.Equal(MasterKeyError.LoginFailed,
            Assert.Throws<MasterKeyException>(() => Pkcs11MasterKey.Open(Options() with { Pin = "wrong-pin" })).Error);
        Assert.Equal(MasterKeyError.TokenNotFound,
            Assert.Throws<MasterKeyException>(() => Pkcs11MasterKey.Open(Options() with { TokenLabel = "no-such-token" })).Error);
        Assert.Equal(MasterKeyError.KeyNotFound,
            Assert.Throws<MasterKeyException>(() => Pkcs11MasterKey.Open(Options() with { CreateIfMissing = false })).Error);
        Assert.Equal(MasterKeyError.ModuleNotLoaded,
            Assert.Throws<MasterKeyException>(() => Pkcs11MasterKey.Open(Options() with { ModulePath = "/nonexistent/libpkcs11.so" })).Error);
    }

    [EnvironmentFact]
    public async Task Broker_outside_simulated_mode_releases_keys_wrapped_by_the_token()
    {
        using Pkcs11MasterKey master = Pkcs11MasterKey.Open(Options());
        using var harness = new BrokerHarness(simulatedMode: false, masterKey: master);
        byte[] dataKey = harness.RegisterDefaultKey();

        ReleaseOutcome outcome = await harness.ReleaseAsync(harness.Token());

        Assert.True(outcome.IsGranted, outcome.Detail);
        Assert.Equal(dataKey, Jwe.Decrypt(outcome.WrappedKey!, harness.EnclaveEncryptionKey));
        Assert.True(harness.UpdatePolicy(BrokerHarness.KeyName, BrokerHarness.DefaultPolicy()).Succeeded);
        Assert.True((await harness.ReleaseAsync(harness.Token())).IsGranted);
    }

    [EnvironmentFact]
    public async Task Concurrent_wraps_and_unwraps_share_the_token_safely()
    {
        using Pkcs11MasterKey key = Pkcs11MasterKey.Open(Options());

        bool[] results = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() =>
        {
            byte[] dataKey = RandomNumberGenerator.GetBytes(32);
            byte[] aad = BitConverter.GetBytes(i);
            byte[] output = new byte[32];
            return key.TryUnwrap(key.Wrap(dataKey, aad), aad, output) && output.AsSpan().SequenceEqual(dataKey);
        })));

        Assert.All(results, Assert.True);
    }

    private Pkcs11MasterKeyOptions Options() => new()
    {
        ModulePath = Env(ModuleVariable),
        TokenLabel = Env(TokenVariable),
        Pin = Env(PinVariable),
        KeyLabel = _label,
    };

    private static string Env(string name) => Environment.GetEnvironmentVariable(name)!;
}
