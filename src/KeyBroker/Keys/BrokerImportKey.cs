using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Keys;

/// <summary>The broker's EC P-256 key that data owners encrypt data keys to (JWE ECDH-ES+A256KW,
/// A256GCM) when registering them. Kept as PKCS#8 PEM (0600) in the data directory or a configured secret file,
/// or as a non-extractable key pair in a PKCS#11 token (<see cref="Pkcs11BrokerKeys"/>, ECDH done in the token);
/// <see cref="PublicJwk"/> (<c>use: enc</c>, kid = RFC 7638 thumbprint) is published. Owner requests
/// name this kid as their audience, which binds them to this broker.</summary>
public sealed class BrokerImportKey : IDisposable
{
    public const string DefaultFileName = "import.key";

    private readonly ECDiffieHellman _key;

    /// <summary>Takes ownership of <paramref name="key"/> (a P-256 key; a PKCS#11-backed one derives in its token).</summary>
    internal BrokerImportKey(ECDiffieHellman key)
    {
        _key = key;
        Jwk unnamed = Jwk.FromEcPublic(key.ExportParameters(false));
        PublicJwk = Jwk.FromEcPublic(key.ExportParameters(false), unnamed.ComputeThumbprint(), "enc");
    }

    public Jwk PublicJwk { get; }

    /// <summary>The kid of <see cref="PublicJwk"/> (its thumbprint).</summary>
    public string KeyId => PublicJwk.Kid!;

    /// <exception cref="InvalidOperationException">The key file is readable by group or others.</exception>
    /// <exception cref="InvalidDataException">The file does not hold an EC P-256 key.</exception>
    public static BrokerImportKey LoadOrCreate(string path) => FromPem(path, SecretFile.ReadOrCreate(path, () =>
    {
        using var created = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return Encoding.ASCII.GetBytes(created.ExportPkcs8PrivateKeyPem());
    }));

    /// <summary>Loads the key from a configured secret file (an EC P-256 private key, PKCS#8 or SEC1 PEM, 0600),
    /// which must exist: brokers given the same file accept the same owner requests.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidOperationException">The key file is readable by group or others.</exception>
    /// <exception cref="InvalidDataException">The file does not hold an EC P-256 private key.</exception>
    public static BrokerImportKey Load(string path) => FromPem(path, SecretFile.ReadExisting(path));

    private static BrokerImportKey FromPem(string path, byte[] pem)
    {
        var key = ECDiffieHellman.Create();
        try
        {
            ImportPrivatePem(key, pem, path);
            if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid?.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new InvalidDataException($"The import key {path} must be an EC P-256 key.");
            }

            return new BrokerImportKey(key);
        }
        catch
        {
            key.Dispose();
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pem);
        }
    }

    /// <summary>Imports a PEM private key, refusing a file that holds only a public key or no key.</summary>
    internal static void ImportPrivatePem(AsymmetricAlgorithm key, byte[] pem, string path)
    {
        string text = Encoding.ASCII.GetString(pem);
        if (!text.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"The key file {path} holds no PEM private key.");
        }

        try
        {
            key.ImportFromPem(text);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            throw new InvalidDataException($"The key file {path} is not a usable PEM private key: {e.Message}", e);
        }
    }

    /// <summary>Decrypts a JWE addressed to this key.</summary>
    /// <exception cref="JoseException">The JWE is malformed, uses another algorithm, or does not decrypt.</exception>
    public byte[] Decrypt(string compactJwe)
    {
        ArgumentNullException.ThrowIfNull(compactJwe);
        return Jwe.Decrypt(compactJwe, _key);
    }

    public void Dispose() => _key.Dispose();
}
