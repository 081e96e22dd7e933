using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Policy;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker.Tests.Support;

/// <summary>A broker in a temporary directory with a test verifier key, a data owner and an enclave,
/// issuing real ES256 tokens shaped as docs/formats.md section 4 describes.</summary>
internal sealed class BrokerHarness : IDisposable
{
    public const string Issuer = "https://verifier.test";
    public const string OtherIssuer = "https://verifier-b.test";
    public const string Region = "eu-west";
    public const string KeyName = "fashion-eu";
    public static readonly string Measurement = Convert.ToHexStringLower(SHA256.HashData("enclave-app"u8));
    public static readonly string Signer = Convert.ToHexStringLower(SHA256.HashData("enclave-simulated-signer"u8));

    private readonly InMemoryMasterKey? _masterKey;

    public BrokerHarness(bool simulatedMode = true, IKeyBrokerStore? store = null, string? audience = TokenValidatorOptions.DefaultAudience, IMasterKey? masterKey = null)
    {
        Directory = new TempDirectory();
        VerifierKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        VerifierJwk = PublicSigningJwk(VerifierKey);
        OtherVerifierKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        OwnerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        EnclaveEncryptionKey = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        EnclaveSigningKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        VerifierKeys = new StaticVerifierKeySource(new Dictionary<string, JwkSet>
        {
            [Issuer] = new JwkSet([VerifierJwk]),
            [OtherIssuer] = new JwkSet([PublicSigningJwk(OtherVerifierKey)]),
        });
        if (!simulatedMode && masterKey is null)
        {
            _masterKey = new InMemoryMasterKey();
        }

        Store = store;
        Broker = new KeyBrokerService(
            new KeyBrokerOptions
            {
                DataDirectory = Directory.Path,
                TrustedIssuers = [Issuer, OtherIssuer],
                Audience = audience,
                SimulatedMode = simulatedMode,
                Time = Time,
            },
            new SwitchableKeySource(this),
            masterKey ?? _masterKey,
            store);
    }

    public ManualTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 15, 10, 0, 0, TimeSpan.Zero));

    public TempDirectory Directory { get; }

    public IKeyBrokerStore? Store { get; }

    public ECDsa VerifierKey { get; }

    public Jwk VerifierJwk { get; }

    public ECDsa OtherVerifierKey { get; }

    public StaticVerifierKeySource VerifierKeys { get; }

    /// <summary>When set, the broker cannot obtain any verifier's keys (as when the verifier is unreachable).</summary>
    public bool VerifierKeysUnavailable { get; set; }

    public ECDsa OwnerKey { get; }

    public ECDiffieHellman EnclaveEncryptionKey { get; }

    public ECDsa EnclaveSigningKey { get; }

    public KeyBrokerService Broker { get; }

    public string DatabasePath => Directory.Combine(SqliteKeyBrokerStore.DefaultFileName);

    public static Jwk PublicSigningJwk(ECDsa key)
    {
        Jwk unnamed = Jwk.FromEcPublic(key.ExportParameters(false));
        return Jwk.FromEcPublic(key.ExportParameters(false), unnamed.ComputeThumbprint(), "sig");
    }

    public static string PublicJwkJson(ECDsa key) => Jwk.FromEcPublic(key.ExportParameters(false)).ToJson();

    public static string DefaultPolicy(string authority = Issuer) => DefaultPolicyBuilder(authority).ToJson();

    /// <summary>The default policy with a privacy budget of <paramref name="maxEpsilon"/> at <paramref name="delta"/>.</summary>
    public static string BudgetedPolicy(double maxEpsilon, double delta = 1e-5) =>
        DefaultPolicyBuilder(Issuer).LimitPrivacy(maxEpsilon, delta).ToJson();

    private static EnclaveReleasePolicyBuilder DefaultPolicyBuilder(string authority) =>
        new EnclaveReleasePolicyBuilder(authority)
            .AllowMeasurement(Measurement)
            .AllowAttestationType("sgx")
            .AllowAttestationType("simulated")
            .RequireMinimumSvn(2)
            .AllowTcbStatus("UpToDate")
            .AllowRegion(Region);

    /// <summary>Makes a token's claims say the round spends (q, σ, T) at δ (<c>x-ms-runtime.privacy</c>).</summary>
    public static Action<JsonObject> Spending(double samplingRate, double noiseMultiplier, long steps, double delta = 1e-5) =>
        claims => claims["x-ms-runtime"]!["privacy"] = new JsonObject
        {
            ["samplingRate"] = samplingRate,
            ["noiseMultiplier"] = noiseMultiplier,
            ["steps"] = steps,
            ["delta"] = delta,
        };

    public static byte[] NewDataKey() => RandomNumberGenerator.GetBytes(32);

    /// <summary>The full id (<c>{owner thumbprint}/{name}</c>) of <paramref name="name"/> registered by
    /// <paramref name="owner"/> (default: <see cref="OwnerKey"/>).</summary>
    public string IdOf(string name, ECDsa? owner = null) =>
        Keys.KeyId.Compose(Jwk.FromEcPublic((owner ?? OwnerKey).ExportParameters(false)).ComputeThumbprint(), name);

    /// <summary>The full id of <see cref="KeyName"/> registered by <see cref="OwnerKey"/>.</summary>
    public string DefaultKeyId => IdOf(KeyName);

    // ---- owner requests ----

    public JsonObject OwnerPayload(string op, string name)
    {
        return new JsonObject
        {
            ["op"] = op,
            ["name"] = name,
            ["iat"] = Time.GetUtcNow().ToUnixTimeSeconds(),
            ["jti"] = Base64Url.Encode(RandomNumberGenerator.GetBytes(16)),
            ["aud"] = Broker.ImportKey.Kid,
        };
    }

    public JsonObject RegisterPayload(string name, string policyJson, byte[] dataKey)
    {
        JsonObject payload = OwnerPayload("register", name);
        payload["policy"] = JsonNode.Parse(policyJson);
        payload["key"] = Jwe.Encrypt(dataKey, Broker.ImportKey);
        return payload;
    }

    public static string Sign(ECDsa owner, JsonObject payload, string? typ = "enclave-owner-request+jws")
    {
        string kid = Jwk.FromEcPublic(owner.ExportParameters(false)).ComputeThumbprint();
        return Jws.Sign(Encoding.UTF8.GetBytes(payload.ToJsonString()), owner, kid, typ);
    }

    public OwnerRequestOutcome Register(string name, string policyJson, byte[] dataKey, ECDsa? owner = null)
    {
        owner ??= OwnerKey;
        return Broker.RegisterKey(PublicJwkJson(owner), Sign(owner, RegisterPayload(name, policyJson, dataKey)));
    }

    public OwnerRequestOutcome UpdatePolicy(string name, string policyJson, ECDsa? owner = null)
    {
        owner ??= OwnerKey;
        JsonObject payload = OwnerPayload("updatePolicy", name);
        payload["policy"] = JsonNode.Parse(policyJson);
        return Broker.UpdatePolicy(PublicJwkJson(owner), Sign(owner, payload));
    }

    public OwnerRequestOutcome SetEnabled(string name, bool enabled, ECDsa? owner = null)
    {
        owner ??= OwnerKey;
        JsonObject payload = OwnerPayload("setEnabled", name);
        payload["enabled"] = enabled;
        return Broker.SetKeyEnabled(PublicJwkJson(owner), Sign(owner, payload));
    }

    /// <summary>Registers <see cref="KeyName"/> under the default policy and returns the data key.</summary>
    public byte[] RegisterDefaultKey()
    {
        byte[] dataKey = NewDataKey();
        OwnerRequestOutcome outcome = Register(KeyName, DefaultPolicy(), dataKey);
        Assert.True(outcome.Succeeded, outcome.Detail);
        return dataKey;
    }

    // ---- attestation tokens ----

    /// <summary>Claims of a genuine, satisfying token for <paramref name="nonce"/>.</summary>
    public JsonObject Claims(string nonce)
    {
        long now = Time.GetUtcNow().ToUnixTimeSeconds();
        Jwk enc = EncryptionJwk();
        Jwk sig = Jwk.FromEcPublic(EnclaveSigningKey.ExportParameters(false), "sig", "sig");
        return new JsonObject
        {
            ["iss"] = Issuer,
            ["aud"] = TokenValidatorOptions.DefaultAudience,
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + 600,
            ["jti"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
            ["x-ms-ver"] = "1.0",
            ["x-ms-attestation-type"] = "sgx",
            ["x-ms-sgx-mrenclave"] = Measurement,
            ["x-ms-sgx-mrsigner"] = Signer,
            ["x-ms-sgx-is-debuggable"] = false,
            ["x-ms-sgx-svn"] = 3,
            ["x-ms-sgx-product-id"] = 1,
            ["x-ms-sgx-report-data"] = new string('0', 128),
            ["x-ms-runtime"] = new JsonObject
            {
                ["keys"] = new JsonArray(enc.ToJsonObject(), sig.ToJsonObject()),
                ["nonce"] = nonce,
                ["round"] = "round-1",
            },
            ["nonce"] = nonce,
            ["x-enclave-region"] = Region,
            ["x-enclave-platform-id"] = new string('b', 64),
            ["x-enclave-tcb-status"] = "UpToDate",
        };
    }

    public Jwk EncryptionJwk() => Jwk.FromEcPublic(EnclaveEncryptionKey.ExportParameters(false), "enc", "enc");

    public string IssueToken(JsonObject claims, ECDsa? key = null, string? kid = null)
    {
        key ??= VerifierKey;
        kid ??= PublicSigningJwk(key).Kid;
        return Jwt.Issue(claims, key, kid);
    }

    /// <summary>A token for a fresh broker nonce, with the claims changed by <paramref name="mutate"/>.</summary>
    public string Token(Action<JsonObject>? mutate = null)
    {
        JsonObject claims = Claims(Broker.IssueNonce().Value);
        mutate?.Invoke(claims);
        return IssueToken(claims);
    }

    /// <summary>Releases the key with full id <paramref name="keyId"/> (default: <see cref="DefaultKeyId"/>).</summary>
    public Task<ReleaseOutcome> ReleaseAsync(string token, string? keyId = null) => Broker.ReleaseAsync(keyId ?? DefaultKeyId, token);

    public void Dispose()
    {
        Broker.Dispose();
        Store?.Dispose();
        _masterKey?.Dispose();
        VerifierKey.Dispose();
        OtherVerifierKey.Dispose();
        OwnerKey.Dispose();
        EnclaveEncryptionKey.Dispose();
        EnclaveSigningKey.Dispose();
        Directory.Dispose();
    }

    private sealed class SwitchableKeySource(BrokerHarness harness) : IVerifierKeySource
    {
        public ValueTask<JwkSet> GetKeysAsync(string issuer, bool refresh, CancellationToken cancellationToken = default) =>
            harness.VerifierKeysUnavailable
                ? ValueTask.FromException<JwkSet>(new VerifierKeysUnavailableException("the verifier's JWKS endpoint did not answer"))
                : harness.VerifierKeys.GetKeysAsync(issuer, refresh, cancellationToken);
    }
}
