using System.Security.Cryptography;

namespace Enclave.KeyBroker.Keys;

/// <summary>Secret material on disk: created once with owner-only permissions (0600 on Unix) via a
/// temporary file and an atomic rename, so a concurrent reader never sees a partial file; refused when
/// an existing file is readable by group or others.</summary>
internal static class SecretFile
{
    private const UnixFileMode ForbiddenModes =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Returns the file's bytes, creating it with <paramref name="create"/> first if it is absent.</summary>
    /// <exception cref="InvalidOperationException">The existing file is accessible to group or others.</exception>
    public static byte[] ReadOrCreate(string path, Func<byte[]> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentNullException.ThrowIfNull(create);
        if (!File.Exists(path))
        {
            TryCreate(path, create);
        }

        CheckPermissions(path);
        return File.ReadAllBytes(path);
    }

    /// <summary>Returns the bytes of a configured secret file (e.g. a mounted Kubernetes Secret), which is never
    /// created here: brokers that share key material must all be given the same file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidOperationException">The file is accessible to group or others.</exception>
    public static byte[] ReadExisting(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The configured secret file {path} does not exist.", path);
        }

        CheckPermissions(path);
        return File.ReadAllBytes(path);
    }

    private static void TryCreate(string path, Func<byte[]> create)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        byte[] content = create();
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
            };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            try
            {
                File.Move(temporary, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first; its file wins.
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(content);
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    private static void CheckPermissions(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        UnixFileMode mode = File.GetUnixFileMode(path);
        if ((mode & ForbiddenModes) != 0)
        {
            throw new InvalidOperationException(
                $"The secret file {path} is accessible to group or others (mode {Convert.ToString((int)mode, 8)}); it must be 0600.");
        }
    }
}
