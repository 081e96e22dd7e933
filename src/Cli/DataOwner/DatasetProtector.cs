// The data owner's side of "protect data": take a disjoint shard of the training set, encrypt it under a fresh
// 256-bit data key into the region's data folder, and keep the key for registration with the broker.
using System.Security.Cryptography;
using Enclave.Aggregator.Data;
using Enclave.Crypto;

namespace Enclave.Cli.DataOwner;

internal sealed record ProtectedDataset(string DatasetId, string Region, string Path, int Examples, long CiphertextBytes);

internal static class DatasetProtector
{
    /// <summary>Encrypts shard <paramref name="shard"/> of <paramref name="shards"/> (by index modulo) to <paramref name="outputPath"/>.</summary>
    public static ProtectedDataset Protect(string sourceDirectory, string datasetId, string region, int shard, int shards, int? limit, string outputPath, ReadOnlySpan<byte> dataKey, Partition? partition = null)
    {
        if (shards < 1 || shard < 0 || shard >= shards)
        {
            throw new ArgumentOutOfRangeException(nameof(shard), $"shard {shard} of {shards} does not exist");
        }

        (byte[] pixels, byte[] labels, int count) = FashionMnist.LoadTrain(sourceDirectory);
        List<int> indices = (partition ?? Partition.Iid).Indices(labels.AsSpan(0, count), shard, shards, limit);

        byte[] plaintext = ExampleSetWriter.Write(pixels, labels, FashionMnist.Side, FashionMnist.Side, indices);
        try
        {
            string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(outputPath))!;
            Directory.CreateDirectory(directory);
            string temporary = outputPath + ".tmp";
            try
            {
                using (var input = new MemoryStream(plaintext, writable: false))
                using (var output = new FileStream(temporary, FileMode.Create, FileAccess.Write))
                {
                    EncryptedDataset.Encrypt(input, plaintext.Length, output, dataKey, datasetId, region);
                    output.Flush(flushToDisk: true);
                }

                File.Move(temporary, outputPath, overwrite: true);
            }
            catch
            {
                File.Delete(temporary);
                throw;
            }
            return new ProtectedDataset(datasetId, region, outputPath, indices.Count, new FileInfo(outputPath).Length);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    /// <summary>Encrypts a shard and writes its data key, both or neither: each goes to a temporary file first, the
    /// key is moved into place before the ciphertext, and on any failure both temporaries are removed, so no
    /// ciphertext is ever left without its key.</summary>
    /// <exception cref="Commands.CliException">The source, the output or the key file is unusable; nothing is written.</exception>
    public static ProtectedDataset ProtectWithKeyFile(string sourceDirectory, string datasetId, string region, int shard, int shards, int? limit, string outputPath, string keyPath, ReadOnlySpan<byte> dataKey)
    {
        string keyTemporary = keyPath + ".tmp";
        string dataTemporary = outputPath + ".tmp";
        try
        {
            WriteSecretFile(keyTemporary, dataKey);
            ProtectedDataset dataset = Protect(sourceDirectory, datasetId, region, shard, shards, limit, dataTemporary, dataKey);
            File.Move(keyTemporary, keyPath, overwrite: true);
            File.Move(dataTemporary, outputPath, overwrite: true);
            return dataset with { Path = outputPath };
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or IdxFormatException or ArgumentException)
        {
            File.Delete(keyTemporary);
            File.Delete(dataTemporary);
            throw new Commands.CliException(ex is IdxFormatException or FileNotFoundException or DirectoryNotFoundException
                ? $"--source {sourceDirectory}: {ex.Message}"
                : ex.Message);
        }
    }

    public static byte[] NewDataKey() => RandomNumberGenerator.GetBytes(32);

    public static void WriteSecretFile(string path, ReadOnlySpan<byte> bytes)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        stream.Write(bytes);
    }
}
