// Measurement of a simulated enclave build (docs/formats.md section 2): SHA-256 over the manifest text of every
// Enclave.*.dll in a folder, one "<file name> <lower-case hex SHA-256>\n" line per file in ordinal order.
// The simulated platform measures the code it runs with this, and data owners compute the value to allow.
using System.Security.Cryptography;
using System.Text;

namespace Enclave.Crypto;

public static class CodeManifest
{
    public const string Pattern = "Enclave.*.dll";

    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder holds no enclave assemblies.</exception>
    public static byte[] Measure(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string[] files = Directory.GetFiles(directory, Pattern);
        if (files.Length == 0)
        {
            throw new FileNotFoundException($"no {Pattern} files in {directory}");
        }

        Array.Sort(files, StringComparer.Ordinal);
        var manifest = new StringBuilder();
        foreach (string file in files)
        {
            using FileStream stream = File.OpenRead(file);
            manifest.Append(Path.GetFileName(file)).Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(stream))).Append('\n');
        }

        return SHA256.HashData(Encoding.UTF8.GetBytes(manifest.ToString()));
    }
}
