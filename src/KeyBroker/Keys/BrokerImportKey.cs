using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Keys;

/// <summary>The broker's EC P-256 key that data owners encrypt data keys to (JWE ECDH-ES+A256KW,
/// A256GCM) when registering them. Kept as PKCS#8 PEM (0600) in the data directory;
/// <see cref="PublicJwk"/> (<c>use: enc</c>, kid = RFC 7638 thumbprint) is published. Owner requests
/// name this kid as their audience, which binds them to this broker.</summary>
public sealed class BrokerImportKey : IDisposable
{
    public const string DefaultFileName = "import.key";

    private readonly ECDiffieHellman _key;

    private BrokerImportKey(ECDiffieHellman key)
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
    public static BrokerImportKey LoadOrCreate(string path)
    {
        byte[] pem = SecretFile.ReadOrCreate(path, () =>
        {
            using var created = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
            return Encoding.ASCII.GetBytes(created.ExportPkcs8PrivateKeyPem());
        });
        var key = ECDiffieHellman.Create();
        try
        {
            key.ImportFromPem(Encoding.ASCII.GetString(pem));
            if (key.KeySize != 256)
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

    /// <summary>Decrypts a JWE addressed to this key.</summary>
    /// <exception cref="JoseException">The JWE is malformed, uses another algorithm, or does not decrypt.</exception>
    public byte[] Decrypt(string compactJwe)
    {
        ArgumentNullException.ThrowIfNull(compactJwe);
        return Jwe.Decrypt(compactJwe, _key);
    }

    public void Dispose() => _key.Dispose();
}
