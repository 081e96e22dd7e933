using System.Security.Cryptography;
using Enclave.AttestationVerifier.Endorsements;

namespace Enclave.AttestationVerifier;

/// <summary>PEM key files: PKCS#8 private keys created readable by their owner only, never overwritten.</summary>
internal static class KeyFiles
{
    public static void WritePrivate(string path, string pem)
    {
        FileStreamOptions options = new()
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using FileStream stream = new(path, options);
        using StreamWriter writer = new(stream);
        writer.Write(pem);
    }

    public static void WritePublic(string path, string pem)
    {
        using FileStream stream = new(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        using StreamWriter writer = new(stream);
        writer.Write(pem);
    }

    /// <exception cref="InvalidDataException">The file does not hold an ECDSA P-256 private key.</exception>
    public static ECDsa LoadP256PrivateKey(string path)
    {
        string pem = File.ReadAllText(path);
        ECDsa key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new InvalidDataException($"{path}: not a PEM ECDSA private key", ex);
        }

        if (!CertificateKeys.IsP256(key))
        {
            key.Dispose();
            throw new InvalidDataException($"{path}: the key is not ECDSA P-256");
        }

        return key;
    }
}
