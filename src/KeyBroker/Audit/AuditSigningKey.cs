using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;

namespace Enclave.KeyBroker.Audit;

/// <summary>The ES256 key that signs the audit chain head, kept as PKCS#8 PEM (0600) in the data
/// directory or a configured secret file, or as a non-extractable key in a PKCS#11 token (signing done there,
/// <see cref="Pkcs11BrokerKeys"/>). <see cref="PublicJwk"/> is what auditors verify heads with.</summary>
public sealed class AuditSigningKey : IDisposable
{
    public const string DefaultFileName = "audit-signing.key";

    /// <summary>Takes ownership of <paramref name="key"/> (a P-256 key; a PKCS#11-backed one signs in its token).</summary>
    internal AuditSigningKey(ECDsa key)
    {
        Key = key;
        Jwk unnamed = Jwk.FromEcPublic(key.ExportParameters(false));
        PublicJwk = Jwk.FromEcPublic(key.ExportParameters(false), unnamed.ComputeThumbprint(), "sig");
    }

    public Jwk PublicJwk { get; }

    internal ECDsa Key { get; }

    /// <exception cref="InvalidOperationException">The key file is readable by group or others.</exception>
    public static AuditSigningKey LoadOrCreate(string path) => FromPem(path, SecretFile.ReadOrCreate(path, () =>
    {
        using var created = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Encoding.ASCII.GetBytes(created.ExportPkcs8PrivateKeyPem());
    }));

    /// <summary>Loads the key from a configured secret file (an EC P-256 private key, PKCS#8 or SEC1 PEM, 0600),
    /// which must exist: brokers given the same file sign tree heads with the same key.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidOperationException">The key file is readable by group or others.</exception>
    /// <exception cref="InvalidDataException">The file does not hold an EC P-256 private key.</exception>
    public static AuditSigningKey Load(string path) => FromPem(path, SecretFile.ReadExisting(path));

    private static AuditSigningKey FromPem(string path, byte[] pem)
    {
        var key = ECDsa.Create();
        try
        {
            BrokerImportKey.ImportPrivatePem(key, pem, path);
            if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid?.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                throw new InvalidDataException($"The audit signing key {path} must be an EC P-256 key.");
            }

            return new AuditSigningKey(key);
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

    /// <summary>A key that lives only in memory (tests, tools).</summary>
    public static AuditSigningKey CreateEphemeral() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256));

    public void Dispose() => Key.Dispose();
}
