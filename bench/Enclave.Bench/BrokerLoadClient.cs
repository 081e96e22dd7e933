// Drives a key broker the way enclaves and a data owner do, for load and crash tests: a stand-in
// attestation verifier (its own P-256 signing key and JWKS), a data owner who registers a key, and
// enclaves that fetch a nonce, obtain a token for it and ask for the key. Tokens carry the claims of
// docs/formats.md section 4 (attestation type "sgx"), signed ES256 by the stand-in verifier, so the broker
// validates them exactly as production tokens; only a broker configured to trust this issuer accepts them.
// By default neither the key nor the tokens involve a privacy budget; Budget and RoundPrivacy add them (crash tests).
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Policy;
using Enclave.KeyBroker.Tokens;
using Enclave.Protocol.Broker;
using Grpc.Core;

namespace Enclave.Bench;

/// <summary>What one release attempt returned.</summary>
/// <param name="TokenId">The token's <c>jti</c>, which the broker writes into the audit record.</param>
/// <param name="ReceiptId">The audit receipt of a grant; null when denied or failed.</param>
/// <param name="Latency">Duration of the ReleaseKey call alone.</param>
/// <summary>One release: the token's id, the grant's audit receipt (null when denied), the release call's latency,
/// and the nonce the broker handed back for the next attestation (null if it sent none).</summary>
public sealed record ReleaseAttempt(string TokenId, string? ReceiptId, TimeSpan Latency, string? NextNonce = null);

/// <summary>What a token says its round spends of a dataset's privacy budget (<c>x-ms-runtime.privacy</c>, docs/formats.md
/// section 3): Poisson sampling rate, noise multiplier, steps and the plan's δ.</summary>
public sealed record RoundPrivacyClaim(double SamplingRate, double NoiseMultiplier, long Steps, double Delta)
{
    public JsonObject ToJson() => new()
    {
        ["samplingRate"] = SamplingRate,
        ["noiseMultiplier"] = NoiseMultiplier,
        ["steps"] = Steps,
        ["delta"] = Delta,
    };
}

public sealed class BrokerLoadClient : IDisposable
{
    public const string Region = "bench-region";
    public static readonly string Measurement = Convert.ToHexStringLower(SHA256.HashData("enclave-bench-app"u8));

    private readonly ECDsa _verifierKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _ownerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDiffieHellman _enclaveKey = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
    private readonly RSA? _enclaveRsaKey;
    private readonly string _runtimeKeys;

    /// <param name="issuer">The stand-in verifier's issuer URL; the broker must trust it (and, over HTTP,
    /// find its JWKS at <c>{issuer}/certs</c>).</param>
    /// <param name="rsaEnclaveKey">Give the enclaves an RSA-2048 encryption key (releases are then RSA-OAEP-256
    /// JWEs) instead of a P-256 one (ECDH-ES+A256KW).</param>
    public BrokerLoadClient(string issuer, bool rsaEnclaveKey = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(issuer);
        Issuer = issuer.TrimEnd('/');
        Jwk unnamed = Jwk.FromEcPublic(_verifierKey.ExportParameters(false));
        VerifierJwk = Jwk.FromEcPublic(_verifierKey.ExportParameters(false), unnamed.ComputeThumbprint(), "sig");
        if (rsaEnclaveKey)
        {
            _enclaveRsaKey = RSA.Create(2048);
            EncryptionJwk = Jwk.FromRsaPublic(_enclaveRsaKey.ExportParameters(false), "enc", "enc");
        }
        else
        {
            EncryptionJwk = Jwk.FromEcPublic(_enclaveKey.ExportParameters(false), "enc", "enc");
        }

        _runtimeKeys = new JsonArray(EncryptionJwk.ToJsonObject()).ToJsonString();
    }

    public string Issuer { get; }

    public Jwk VerifierJwk { get; }

    /// <summary>The enclaves' encryption key, as their tokens carry it.</summary>
    public Jwk EncryptionJwk { get; }

    public JwkSet VerifierKeys => new([VerifierJwk]);

    /// <summary>When set, <see cref="PolicyJson"/> gives the key this privacy budget (<c>x-enclave-privacy</c>).</summary>
    public PrivacyBudget? Budget { get; init; }

    /// <summary>When set, every token says its round spends this (<c>x-ms-runtime.privacy</c>).</summary>
    public RoundPrivacyClaim? RoundPrivacy { get; init; }

    /// <summary>The RFC 7638 thumbprint of this client's data-owner key, the owner part of its key ids.</summary>
    public string OwnerThumbprint => Jwk.FromEcPublic(_ownerKey.ExportParameters(false)).ComputeThumbprint();

    /// <summary>The full id (<c>{owner thumbprint}/{name}</c>) under which the broker keeps this client's key <paramref name="name"/>.</summary>
    public string KeyId(string name) => KeyBroker.Keys.KeyId.Compose(OwnerThumbprint, name);

    /// <summary>The release policy the registered key carries: this issuer, the bench measurement, SGX,
    /// SVN at least 2, TCB up to date, the bench region, and <see cref="Budget"/> when set.</summary>
    public string PolicyJson
    {
        get
        {
            EnclaveReleasePolicyBuilder builder = new EnclaveReleasePolicyBuilder(Issuer)
                .AllowMeasurement(Measurement)
                .AllowAttestationType("sgx")
                .RequireMinimumSvn(2)
                .AllowTcbStatus("UpToDate")
                .AllowRegion(Region);
            return (Budget is null ? builder : builder.LimitPrivacy(Budget.MaxEpsilon, Budget.Delta)).ToJson();
        }
    }

    /// <summary>A signed owner request registering <paramref name="dataKey"/> under <paramref name="keyName"/> with
    /// <paramref name="policyJson"/> (default: <see cref="PolicyJson"/>).</summary>
    public SignedOwnerRequest RegisterRequest(string keyName, Jwk importKey, ReadOnlySpan<byte> dataKey, string? policyJson = null)
    {
        ArgumentNullException.ThrowIfNull(importKey);
        var payload = new JsonObject
        {
            ["op"] = "register",
            ["name"] = keyName,
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["jti"] = Base64Url.Encode(RandomNumberGenerator.GetBytes(16)),
            ["aud"] = importKey.Kid,
            ["policy"] = JsonNode.Parse(policyJson ?? PolicyJson),
            ["key"] = Jwe.Encrypt(dataKey, importKey),
        };
        Jwk owner = Jwk.FromEcPublic(_ownerKey.ExportParameters(false));
        return new SignedOwnerRequest
        {
            OwnerKey = owner.ToJson(),
            SignedRequest = Jws.Sign(Encoding.UTF8.GetBytes(payload.ToJsonString()), _ownerKey, owner.ComputeThumbprint(), "enclave-owner-request+jws"),
        };
    }

    /// <summary>Registers a fresh random data key over gRPC and returns it.</summary>
    public async Task<byte[]> RegisterKeyAsync(Protocol.Broker.KeyBroker.KeyBrokerClient broker, string keyName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(broker);
        GetImportKeyResponse import = await broker.GetImportKeyAsync(new GetImportKeyRequest(), cancellationToken: cancellationToken);
        byte[] dataKey = RandomNumberGenerator.GetBytes(32);
        await broker.RegisterKeyAsync(RegisterRequest(keyName, Jwk.Parse(import.Jwk), dataKey), cancellationToken: cancellationToken);
        return dataKey;
    }

    /// <summary>A token for <paramref name="nonce"/>, valid for ten minutes, that satisfies <see cref="PolicyJson"/>;
    /// signed by the stand-in verifier, or by <paramref name="signer"/> (named by its thumbprint) to forge one.</summary>
    public string Token(string nonce, out string tokenId, ECDsa? signer = null)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        tokenId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var claims = new JsonObject
        {
            ["iss"] = Issuer,
            ["aud"] = TokenValidatorOptions.DefaultAudience,
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + 600,
            ["jti"] = tokenId,
            ["x-ms-ver"] = "1.0",
            ["x-ms-attestation-type"] = "sgx",
            ["x-ms-sgx-mrenclave"] = Measurement,
            ["x-ms-sgx-mrsigner"] = Measurement,
            ["x-ms-sgx-is-debuggable"] = false,
            ["x-ms-sgx-svn"] = 3,
            ["x-ms-sgx-product-id"] = 1,
            ["x-ms-runtime"] = new JsonObject
            {
                ["keys"] = JsonNode.Parse(_runtimeKeys),
                ["nonce"] = nonce,
            },
            ["nonce"] = nonce,
            ["x-enclave-region"] = Region,
            ["x-enclave-tcb-status"] = "UpToDate",
        };
        if (RoundPrivacy is not null)
        {
            claims["x-ms-runtime"]!["privacy"] = RoundPrivacy.ToJson();
        }

        return signer is null
            ? Jwt.Issue(claims, _verifierKey, VerifierJwk.Kid)
            : Jwt.Issue(claims, signer, Jwk.FromEcPublic(signer.ExportParameters(false)).ComputeThumbprint());
    }

    /// <summary>One enclave cycle for the key with full id <paramref name="keyName"/> (see <see cref="KeyId"/>): a nonce (<paramref name="nonce"/>, typically the one the previous release handed
    /// back, or else GetNonce), a token for it, ReleaseKey. A denial returns an attempt without receipt; transport
    /// failures throw <see cref="RpcException"/>.</summary>
    public async Task<ReleaseAttempt> ReleaseAsync(
        Protocol.Broker.KeyBroker.KeyBrokerClient broker, string keyName, string? nonce = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(broker);
        nonce ??= (await broker.GetNonceAsync(new GetNonceRequest(), cancellationToken: cancellationToken)).Nonce;
        string token = Token(nonce, out string tokenId);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            ReleaseKeyResponse response = await broker.ReleaseKeyAsync(
                new ReleaseKeyRequest { KeyName = keyName, AttestationToken = token }, cancellationToken: cancellationToken);
            return new ReleaseAttempt(tokenId, response.ReceiptId, System.Diagnostics.Stopwatch.GetElapsedTime(started), response.NextNonce?.Nonce);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied)
        {
            return new ReleaseAttempt(tokenId, null, System.Diagnostics.Stopwatch.GetElapsedTime(started), e.Trailers.GetValue("next-nonce"));
        }
    }

    /// <summary>Decrypts a granted key (the JWE of a ReleaseKey response) with the enclave key.</summary>
    public byte[] DecryptKey(string wrappedKey) => _enclaveRsaKey is null ? Jwe.Decrypt(wrappedKey, _enclaveKey) : Jwe.Decrypt(wrappedKey, _enclaveRsaKey);

    public void Dispose()
    {
        _verifierKey.Dispose();
        _ownerKey.Dispose();
        _enclaveKey.Dispose();
        _enclaveRsaKey?.Dispose();
    }
}
