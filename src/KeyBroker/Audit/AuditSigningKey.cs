using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;

namespace Enclave.KeyBroker.Audit;

/// <summary>The ES256 key that signs the audit chain head, kept as PKCS#8 PEM (0600) in the data
/// directory. <see cref="PublicJwk"/> is what auditors verify heads with.</summary>
public sealed class AuditSigningKey : IDisposable
{
    public const string DefaultFileName = "audit-signing.key";

    private AuditSigningKey(ECDsa key)
    {
        Key = key;
        Jwk unnamed = Jwk.FromEcPublic(key.ExportParameters(false));
        PublicJwk = Jwk.FromEcPublic(key.ExportParameters(false), unnamed.ComputeThumbprint(), "sig");
    }

    public Jwk PublicJwk { get; }

    internal ECDsa Key { get; }

    /// <exception cref="InvalidOperationException">The key file is readable by group or others.</exception>
    public static AuditSigningKey LoadOrCreate(string path)
    {
        byte[] pem = SecretFile.ReadOrCreate(path, () =>
        {
            using var created = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return Encoding.ASCII.GetBytes(created.ExportPkcs8PrivateKeyPem());
        });
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(Encoding.ASCII.GetString(pem));
            if (key.KeySize != 256)
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
