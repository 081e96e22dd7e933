// Reads one encrypted dataset (docs/formats.md section 5) through the host's ReadData ocalls and decrypts it in
// enclave memory. The host is untrusted and so is every header field until a chunk has authenticated: each chunk's
// AAD covers the whole header, so the plaintext buffer is sized only after chunk 0 decrypts under the released
// key. Until then at most one chunk (16 MiB + 28 bytes, the host's read bound) is held.
using System.Security.Cryptography;
using Enclave.Crypto;
using Enclave.EnclaveApp.Boundary;
using Enclave.Protocol.Boundary;

namespace Enclave.EnclaveApp.Data;

internal sealed class DatasetReader
{
    /// <summary>The largest plaintext one enclave decrypts (the dataset lives in enclave memory while it trains).</summary>
    public const long MaxPlaintextLength = 2L * 1024 * 1024 * 1024 - 1024 * 1024;

    private readonly BoundaryChannel _channel;

    public DatasetReader(BoundaryChannel channel)
    {
        _channel = channel;
    }

    /// <summary>Decrypts dataset <paramref name="datasetId"/>, which must be sealed for <paramref name="region"/>.</summary>
    /// <exception cref="EncryptedDatasetException">The host served another dataset, a truncated or extended file,
    /// or bytes that do not authenticate under the key.</exception>
    public async Task<byte[]> ReadAsync(string datasetId, string region, byte[] dataKey, CancellationToken cancellationToken)
    {
        byte[] prefix = await ReadRangeAsync(datasetId, 0, EncryptedDataset.MaxHeaderLength, cancellationToken).ConfigureAwait(false);
        DatasetHeader header = EncryptedDataset.ParseHeader(prefix);
        if (!string.Equals(header.DatasetId, datasetId, StringComparison.Ordinal))
        {
            throw new EncryptedDatasetException(DatasetError.WrongDataset, $"the host served dataset {header.DatasetId}, not {datasetId}");
        }

        if (!string.Equals(header.Region, region, StringComparison.Ordinal))
        {
            throw new EncryptedDatasetException(DatasetError.WrongRegion, $"dataset {datasetId} belongs to region {header.Region}; this enclave is attested in {region}");
        }

        byte[] headerBytes = prefix.AsSpan(0, header.HeaderLength).ToArray();

        // Chunk 0 first, into a buffer of its own size: once it authenticates, the header (lengths included) is the
        // data owner's and the full buffer may be allocated.
        byte[] first = new byte[header.PlaintextChunkLength(0)];
        byte[]? plaintext = null;
        try
        {
            await DecryptChunkAsync(header, headerBytes, dataKey, 0, first, cancellationToken).ConfigureAwait(false);
            if (header.PlaintextLength > MaxPlaintextLength)
            {
                throw new EncryptedDatasetException(DatasetError.Malformed, $"dataset {datasetId} is too large for one enclave ({header.PlaintextLength} bytes; at most {MaxPlaintextLength})");
            }

            plaintext = new byte[header.PlaintextLength];
            first.CopyTo(plaintext, 0);
            long written = first.Length;
            for (long i = 1; i < header.ChunkCount; i++)
            {
                int chunk = header.PlaintextChunkLength(i);
                await DecryptChunkAsync(header, headerBytes, dataKey, i, plaintext.AsMemory((int)written, chunk), cancellationToken).ConfigureAwait(false);
                written += chunk;
            }

            byte[] beyond = await ReadRangeAsync(datasetId, header.FileLength, 1, cancellationToken).ConfigureAwait(false);
            if (beyond.Length != 0)
            {
                throw new EncryptedDatasetException(DatasetError.TrailingData, $"dataset {datasetId} has data after its last chunk");
            }

            return plaintext;
        }
        catch
        {
            if (plaintext is not null)
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }

            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(first);
        }
    }

    private async Task DecryptChunkAsync(DatasetHeader header, byte[] headerBytes, byte[] dataKey, long index, Memory<byte> destination, CancellationToken cancellationToken)
    {
        int length = header.RecordLength(index);
        byte[] record = await ReadRangeAsync(header.DatasetId, header.RecordOffset(index), length, cancellationToken).ConfigureAwait(false);
        if (record.Length != length)
        {
            throw new EncryptedDatasetException(DatasetError.Truncated, $"dataset {header.DatasetId} ends inside chunk {index}");
        }

        EncryptedDataset.DecryptChunk(header, headerBytes, dataKey, index, record, destination.Span);
    }

    private async Task<byte[]> ReadRangeAsync(string datasetId, long offset, int length, CancellationToken cancellationToken)
    {
        OcallResult result = await _channel.CallAsync(new Ocall { ReadData = new ReadDataCall { DatasetId = datasetId, Offset = offset, Length = length } }, cancellationToken).ConfigureAwait(false);
        if (result.Data.Length > length)
        {
            throw new BoundaryViolationException($"asked for {length} bytes of {datasetId}, the host returned {result.Data.Length}");
        }

        return result.Data.ToByteArray();
    }
}
