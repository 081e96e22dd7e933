// The host's side of the enclave's data reads: byte ranges of an encrypted dataset file in the region's data
// folder. The enclave names the dataset (from the coordinator's signed specification); the host serves only a
// well-formed id from its own folder, within bounds, and never interprets the ciphertext. A wrong file is caught
// inside the enclave: it does not authenticate under the released key and dataset id.
using Enclave.Protocol.Boundary;

namespace Enclave.EnclaveHost;

internal static class DatasetFiles
{
    public const int MaxRead = 16 * 1024 * 1024 + 28;

    public const int MaxDatasetIdLength = 128;

    /// <exception cref="IOException">The dataset id is malformed, the read is out of bounds, or the file is missing.</exception>
    public static async Task<byte[]> ReadAsync(HostOptions options, ReadDataCall read, CancellationToken cancellationToken)
    {
        if (!IsValidDatasetId(read.DatasetId))
        {
            throw new IOException($"a dataset id is 1 to {MaxDatasetIdLength} of [a-z0-9-]");
        }

        if (read.Offset < 0 || read.Length < 0 || read.Length > MaxRead)
        {
            throw new IOException($"invalid read of {read.Length} bytes at {read.Offset}");
        }

        string path = PathOf(options, read.DatasetId);
        if (!File.Exists(path))
        {
            throw new IOException($"dataset {read.DatasetId} is missing from {options.DataDirectory}");
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

    public static string PathOf(HostOptions options, string datasetId) => Path.Combine(options.DataDirectory, datasetId + ".encds");

    // The same grammar as a round specification's dataset ids: no dot, slash or anything that could leave the folder.
    private static bool IsValidDatasetId(string id) =>
        id.Length is > 0 and <= MaxDatasetIdLength && id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');
}
