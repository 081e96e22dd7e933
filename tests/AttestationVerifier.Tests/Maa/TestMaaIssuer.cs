using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Tests.Maa;

/// <summary>
/// A stand-in attestation provider for tests: a signing key with a self-signed x5c certificate, its JWKS (shaped
/// like MAA's /certs response) and a token builder. Nothing here is trusted by the verifier except through the
/// JWKS endorsement a test passes explicitly.
/// </summary>
internal sealed class TestMaaIssuer : IDisposable
{
    public const string Issuer = "https://test-provider.attest.example";

    public static readonly DateTimeOffset IssuedAt = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static readonly DateTimeOffset At = IssuedAt.AddHours(1);

    private TestMaaIssuer(AsymmetricAlgorithm key, string algorithm, X509Certificate2 certificate)
    {
        Key = key;
        Algorithm = algorithm;
        Certificate = certificate;
    }

    public AsymmetricAlgorithm Key { get; }

    /// <summary>The JWS alg this issuer signs with by default.</summary>
    public string Algorithm { get; }

    public X509Certificate2 Certificate { get; }

    public string Kid { get; } = "test-signing-key-1";

    public static TestMaaIssuer Create(string algorithm, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        AsymmetricAlgorithm key = algorithm switch
        {
            "ES256" => ECDsa.Create(ECCurve.NamedCurves.nistP256),
            "ES384" => ECDsa.Create(ECCurve.NamedCurves.nistP384),
            _ => RSA.Create(2048),
        };
        CertificateRequest request = key is ECDsa ecdsa
            ? new CertificateRequest($"CN={Issuer}", ecdsa, algorithm == "ES384" ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256)
            : new CertificateRequest($"CN={Issuer}", (RSA)key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        X509Certificate2 certificate = request.CreateSelfSigned(
            notBefore ?? new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero),
            notAfter ?? new DateTimeOffset(2040, 1, 1, 0, 0, 0, TimeSpan.Zero));
        return new TestMaaIssuer(key, algorithm, certificate);
    }

    public JsonObject JwkObject(string? kid = null)
    {
        return new JsonObject
        {
            ["kid"] = kid ?? Kid,
            ["kty"] = Key is RSA ? "RSA" : "EC",
            ["x5c"] = new JsonArray(Convert.ToBase64String(Certificate.RawData)),
        };
    }

    public byte[] Jwks(params JsonObject[] keys) =>
        Encoding.UTF8.GetBytes(new JsonObject { ["keys"] = new JsonArray([.. (keys.Length == 0 ? [JwkObject()] : keys)]) }.ToJsonString());

    public EndorsementSet Endorsements(params JsonObject[] keys) => EndorsementSet.FromFiles([("jwks.json", Jwks(keys))]);

    public static JsonObject DefaultClaims() => new()
    {
        ["exp"] = IssuedAt.AddHours(8).ToUnixTimeSeconds(),
        ["iat"] = IssuedAt.ToUnixTimeSeconds(),
        ["iss"] = Issuer,
        ["nbf"] = IssuedAt.ToUnixTimeSeconds(),
        ["x-ms-attestation-type"] = "sgx",
        ["x-ms-sgx-is-debuggable"] = false,
        ["x-ms-sgx-mrenclave"] = new string('a', 64),
        ["x-ms-sgx-mrsigner"] = new string('b', 64),
        ["x-ms-sgx-product-id"] = 3,
        ["x-ms-sgx-svn"] = 7,
        ["x-ms-sgx-report-data"] = new string('c', 128),
        ["x-ms-ver"] = "1.0",
    };

    /// <summary>A compact JWS over the (edited) default header and claims, signed with this issuer's key.</summary>
    public string Token(
        Action<JsonObject>? editHeader = null,
        Action<JsonObject>? editClaims = null,
        Func<byte[], byte[]>? editSignature = null)
    {
        JsonObject header = new() { ["alg"] = Algorithm, ["kid"] = Kid, ["typ"] = "JWT" };
        editHeader?.Invoke(header);
        JsonObject claims = DefaultClaims();
        editClaims?.Invoke(claims);
        string signingInput = Base64Url.Encode(Encoding.UTF8.GetBytes(header.ToJsonString()))
            + "." + Base64Url.Encode(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        byte[] signature = Sign(Encoding.ASCII.GetBytes(signingInput), (string)header["alg"]!);
        return signingInput + "." + Base64Url.Encode(editSignature?.Invoke(signature) ?? signature);
    }

    private byte[] Sign(byte[] data, string alg) => Key switch
    {
        ECDsa ecdsa => ecdsa.SignData(data, alg == "ES384" ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation),
        RSA rsa => rsa.SignData(data, HashAlgorithmName.SHA256, alg == "PS256" ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1),
        _ => throw new InvalidOperationException(),
    };

    public void Dispose()
    {
        Key.Dispose();
        Certificate.Dispose();
    }
}
