using System.Security.Cryptography;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Tokens;

/// <summary>
/// The verifier's ES256 token-signing key, persisted as PKCS#8 PEM (owner read/write only) in the data directory
/// and created there if absent. Its kid is the RFC 7638 thumbprint of its public JWK.
/// </summary>
public sealed class VerifierSigningKey : IDisposable
{
    public const string FileName = "verifier-signing.key";

    private readonly ECDsa _key;

    private VerifierSigningKey(ECDsa key)
    {
        _key = key;
        Jwk anonymous = Jwk.FromEcPublic(key.ExportParameters(includePrivateParameters: false), null, "sig");
        KeyId = anonymous.ComputeThumbprint();
        PublicJwk = Jwk.FromEcPublic(key.ExportParameters(includePrivateParameters: false), KeyId, "sig");
    }

    /// <summary>RFC 7638 thumbprint of the public key; the <c>kid</c> of every token header.</summary>
    public string KeyId { get; }

    /// <summary>The public key as published in the JWKS (<c>use: sig</c>, <c>kid</c> = <see cref="KeyId"/>).</summary>
    public Jwk PublicJwk { get; }

    /// <summary>The signing key; owned by this instance.</summary>
    internal ECDsa Key => _key;

    /// <summary>The public JWKS written beside the key: what relying parties (broker, coordinator, enclave image
    /// configuration) pin, handed to their operators out of band rather than fetched over a link.</summary>
    public const string PublicKeysFileName = "verifier-keys.jwks";

    /// <summary>Loads <c>verifier-signing.key</c> from <paramref name="dataDirectory"/>, creating it if absent, and
    /// (re)writes its public JWKS as <see cref="PublicKeysFileName"/> there.</summary>
    /// <exception cref="InvalidDataException">The file exists and is not an ECDSA P-256 private key.</exception>
    public static VerifierSigningKey LoadOrCreate(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        string path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            using ECDsa fresh = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            try
            {
                KeyFiles.WritePrivate(path, fresh.ExportPkcs8PrivateKeyPem());
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created the key first; use that one.
            }
        }

        var key = new VerifierSigningKey(KeyFiles.LoadP256PrivateKey(path));
        string jwks = Path.Combine(dataDirectory, PublicKeysFileName);
        string temporary = jwks + "." + Environment.ProcessId + ".tmp";
        File.WriteAllText(temporary, new JwkSet([key.PublicJwk]).ToJson());
        File.Move(temporary, jwks, overwrite: true);
        return key;
    }

    /// <summary>Wraps an existing ECDSA P-256 key; the instance takes ownership of it.</summary>
    /// <exception cref="ArgumentException">The key is not ECDSA P-256.</exception>
    public static VerifierSigningKey FromKey(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (!CertificateKeys.IsP256(key))
        {
            throw new ArgumentException("the verifier signing key must be ECDSA P-256", nameof(key));
        }

        return new VerifierSigningKey(key);
    }

    public void Dispose() => _key.Dispose();
}
