// The host's side of the enclave's data reads: byte ranges of the region's encrypted dataset file. The host
// serves only its configured dataset, within bounds, and never interprets the ciphertext.
using Enclave.Protocol.Boundary;

namespace Enclave.EnclaveHost;

internal static class DatasetFiles
{
    public const int MaxRead = 16 * 1024 * 1024 + 28;

    /// <exception cref="IOException">The read names another dataset, is out of bounds, or the file is missing.</exception>
    public static async Task<byte[]> ReadAsync(HostOptions options, ReadDataCall read, CancellationToken cancellationToken)
    {
        if (!string.Equals(read.DatasetId, options.DatasetId, StringComparison.Ordinal))
        {
            throw new IOException($"this host serves dataset {options.DatasetId}, not {read.DatasetId}");
        }

        if (read.Offset < 0 || read.Length < 0 || read.Length > MaxRead)
        {
            throw new IOException($"invalid read of {read.Length} bytes at {read.Offset}");
        }

        string path = PathOf(options);
        if (!File.Exists(path))
        {
            throw new IOException($"dataset {options.DatasetId} is missing from {options.DataDirectory}");
        }

        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, useAsync: true);
        if (read.Offset >= stream.Length)
        {
            return [];
        }

        stream.Position = read.Offset;
        byte[] buffer = new byte[(int)Math.Min(read.Length, stream.Length - read.Offset)];
        await stream.ReadExactlyAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer;
    }

    public static string PathOf(HostOptions options) => Path.Combine(options.DataDirectory, options.DatasetId + ".encds");
}
