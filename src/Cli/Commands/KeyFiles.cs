// Key files the CLI reads and writes: private keys as PKCS#8 PEM (0600), public keys as JWK JSON.
using System.Security.Cryptography;
using Enclave.Crypto;

namespace Enclave.Cli.Commands;

internal static class KeyFiles
{
    public static ECDsa CreateSigningKey(string privatePath, string publicPath)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        WritePrivate(privatePath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(publicPath, Jwk.FromEcPublic(key.ExportParameters(false), use: "sig").ToJson());
        return key;
    }

    public static ECDsa ReadSigningKey(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"key file {path} does not exist");
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new CliException($"{path} is not a PEM EC private key: {ex.Message}");
        }

        return key;
    }

    public static Jwk ReadPublicJwk(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"public key file {path} does not exist");
        }

        try
        {
            return Jwk.Parse(File.ReadAllText(path));
        }
        catch (JoseException ex)
        {
            throw new CliException($"{path} is not a public JWK: {ex.Message}");
        }
    }

    /// <summary>Reads a public JWKS file, or a file of one public EC JWK, as a key set in which every key has a
    /// kid: keys without one are given their RFC 7638 thumbprint, the kid the product signs with.</summary>
    public static JwkSet ReadPublicKeySet(string path, string option)
    {
        if (!File.Exists(path))
        {
            throw new CliException($"{option}: the key file {path} does not exist");
        }

        string json = File.ReadAllText(path);
        IEnumerable<Jwk> keys;
        try
        {
            keys = json.Contains("\"keys\"", StringComparison.Ordinal) ? JwkSet.Parse(json).Keys : [Jwk.Parse(json)];
        }
        catch (JoseException ex)
        {
            throw new CliException($"{option}: {path} is neither a public JWKS nor a public JWK: {ex.Message}");
        }

        Jwk[] withKids = keys
            .Select(k => k.Kid is not null ? k
                : k.IsEc ? Jwk.FromEcPublic(k.ToEcParameters(), kid: k.ComputeThumbprint(), use: k.Use)
                : Jwk.FromRsaPublic(k.ToRsaParameters(), kid: k.ComputeThumbprint(), use: k.Use))
            .ToArray();
        if (withKids.Length == 0)
        {
            throw new CliException($"{option}: {path} holds no supported key");
        }

        try
        {
            return new JwkSet(withKids);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"{option}: {path}: {ex.Message}");
        }
    }

    /// <summary>The keys of several such files as one set; the same key under the same kid in two files is kept once.</summary>
    public static JwkSet ReadPublicKeySets(IEnumerable<string> paths, string option)
    {
        var keys = new List<Jwk>();
        foreach (string path in paths)
        {
            foreach (Jwk key in ReadPublicKeySet(path, option).Keys)
            {
                if (!keys.Any(k => k.Kid == key.Kid && k.HasSameKey(key)))
                {
                    keys.Add(key);
                }
            }
        }

        try
        {
            return new JwkSet(keys);
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"{option}: {ex.Message}");
        }
    }

    public static void WritePrivate(string path, string pem)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(pem);
    }
}
