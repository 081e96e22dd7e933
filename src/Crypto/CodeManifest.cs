// Measurement of a simulated enclave image (docs/formats.md section 2): SHA-256 over a manifest of EVERY file in
// the image folder and its subfolders — assemblies, native libraries, deps.json, runtimeconfig.json and the
// enclave configuration (enclave.config.json) alike — one "<relative path> <lower-case hex SHA-256>\n" line per
// file, paths with '/' separators, in ordinal order. Adding, removing, renaming, replacing or editing any file
// changes it. A file that is a symbolic link is measured by its content; a linked folder is refused, since what
// it holds could change without any file of the image changing. The simulated platform measures the image it
// runs with this, and owners compute the value their release policies allow.
using System.Security.Cryptography;
using System.Text;

namespace Enclave.Crypto;

public static class CodeManifest
{
    /// <summary>The file the simulated platform requires in every image it measures.</summary>
    public const string EntryAssembly = "Enclave.EnclaveApp.dll";

    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder holds no enclave entry assembly.</exception>
    /// <exception cref="InvalidDataException">The folder holds a linked subfolder or a path that cannot be listed.</exception>
    public static byte[] Measure(string directory) => SHA256.HashData(Encoding.UTF8.GetBytes(Manifest(directory)));

    /// <summary>The manifest text whose SHA-256 is the measurement (for auditors comparing two images).</summary>
    public static string Manifest(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string root = Path.GetFullPath(directory);
        if (!Directory.Exists(root))
        {
            throw new DirectoryNotFoundException($"no enclave image at {root}");
        }

        if (!File.Exists(Path.Combine(root, EntryAssembly)))
        {
            throw new FileNotFoundException($"{root} holds no {EntryAssembly}");
        }

        var files = new List<string>();
        Collect(root, root, files);
        files.Sort(StringComparer.Ordinal);
        var manifest = new StringBuilder();
        foreach (string relative in files)
        {
            using FileStream stream = File.OpenRead(Path.Combine(root, relative));
            manifest.Append(relative).Append(' ').Append(Convert.ToHexStringLower(SHA256.HashData(stream))).Append('\n');
        }

        return manifest.ToString();
    }

    private static void Collect(string root, string directory, List<string> files)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(directory))
        {
            string relative = Path.GetRelativePath(root, entry).Replace(Path.DirectorySeparatorChar, '/');
            if (relative.Any(c => char.IsControl(c)) || relative.Contains(' ', StringComparison.Ordinal))
            {
                throw new InvalidDataException($"the image holds a path with a space or control character: \"{relative}\"");
            }

            var info = new FileInfo(entry);
            if (info.Attributes.HasFlag(FileAttributes.Directory))
            {
                if (info.LinkTarget is not null)
                {
                    throw new InvalidDataException($"the image holds a linked folder ({relative}); copy it in instead");
                }

                Collect(root, entry, files);
            }
            else
            {
                files.Add(relative);
            }
        }
    }
}
