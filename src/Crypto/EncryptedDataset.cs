// Encrypted dataset file ENCDS001 (docs/formats.md section 5). AES-256-GCM (NIST SP 800-38D) per chunk:
// 32-byte data key, 12-byte random nonce, 16-byte tag. Header, little-endian: magic "ENCDS001" (8),
// version 1 (2), header length H ≤ 1024 (2), chunk size C, 4 KiB..16 MiB (4), plaintext length P (8),
// chunk count N = max(1, ceil(P / C)) (8), dataset id (1 + 1..128 bytes of [A-Za-z0-9._-]), region
// (1 + 1..64 bytes of [a-z0-9-]); H is exactly the length of these fields. Record i sits at
// H + i·(C + 28): nonce ‖ ciphertext (C bytes, the last P − (N−1)·C) ‖ tag. AAD of record i is
// SHA-256(header bytes) ‖ u64 LE i ‖ u8 (1 for the last record, else 0), 41 bytes.

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Enclave.Crypto;

public enum DatasetError
{
    Malformed,
    UnsupportedVersion,
    WrongDataset,
    WrongRegion,
    Truncated,
    ChunkAuthenticationFailed,
    TrailingData,
}

/// <summary>An encrypted dataset was rejected; <see cref="Code"/> says why.</summary>
public sealed class EncryptedDatasetException : Exception
{
    public EncryptedDatasetException(DatasetError code, string message)
        : base(message)
    {
        Code = code;
    }

    public EncryptedDatasetException(DatasetError code, string message, Exception? innerException)
        : base(message, innerException)
    {
        Code = code;
    }

    public DatasetError Code { get; }

    public override string ToString() => $"{nameof(EncryptedDatasetException)} ({Code}): {base.ToString()}";
}

/// <summary>The parsed header of an encrypted dataset. Values are as read; authenticity follows only from
/// a successful decryption of the chunks, whose AAD binds the exact header bytes.</summary>
public sealed record DatasetHeader(string DatasetId, string Region, int ChunkSize, long PlaintextLength, long ChunkCount, int HeaderLength)
{
    /// <summary>Size of the per-record nonce and tag.</summary>
    public const int RecordOverhead = EncryptedDataset.NonceSize + EncryptedDataset.TagSize;

    /// <summary>Total file length the header declares.</summary>
    public long FileLength => RecordOffset(ChunkCount - 1) + RecordLength(ChunkCount - 1);

    /// <summary>Offset of record <paramref name="index"/> from the start of the file.</summary>
    public long RecordOffset(long index)
    {
        CheckIndex(index);
        return HeaderLength + (index * ((long)ChunkSize + RecordOverhead));
    }

    /// <summary>Length of record <paramref name="index"/>: nonce, ciphertext and tag.</summary>
    public int RecordLength(long index) => PlaintextChunkLength(index) + RecordOverhead;

    /// <summary>Plaintext bytes in chunk <paramref name="index"/>: C, except the last.</summary>
    public int PlaintextChunkLength(long index)
    {
        CheckIndex(index);
        return index < ChunkCount - 1 ? ChunkSize : (int)(PlaintextLength - ((ChunkCount - 1) * ChunkSize));
    }

    private void CheckIndex(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, ChunkCount);
    }
}

/// <summary>Writes and reads ENCDS001 encrypted dataset files.</summary>
public static class EncryptedDataset
{
    public const int MaxHeaderLength = 1024;
    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const int MinChunkSize = 4 * 1024;
    public const int MaxChunkSize = 16 * 1024 * 1024;
    public const int MaxDatasetIdLength = 128;
    public const int MaxRegionLength = 64;
    public const ushort Version = 1;

    /// <summary>At most 2^32 chunks under one key, the NIST SP 800-38D section 8.3 bound for random nonces.</summary>
    public const long MaxChunkCount = 1L << 32;

    private const int FixedFieldsLength = 32;
    private const int AadLength = 32 + 8 + 1;
    private const int HashSize = 32;

    private static readonly System.Buffers.SearchValues<char> s_datasetIdChars =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    private static readonly System.Buffers.SearchValues<char> s_regionChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-");

    private static ReadOnlySpan<byte> Magic => "ENCDS001"u8;

    /// <summary>Encrypts exactly <paramref name="plaintextLength"/> bytes of <paramref name="plaintext"/> into <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">Bad key size, id, region, chunk size or length, or a plaintext
    /// stream longer than declared.</exception>
    /// <exception cref="EndOfStreamException">The plaintext stream ends before <paramref name="plaintextLength"/> bytes.</exception>
    public static void Encrypt(
        Stream plaintext,
        long plaintextLength,
        Stream output,
        ReadOnlySpan<byte> key,
        string datasetId,
        string region,
        int chunkSize = 1 << 20)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(datasetId);
        ArgumentNullException.ThrowIfNull(region);
        ArgumentOutOfRangeException.ThrowIfNegative(plaintextLength);
        CheckKey(key);
        if (!IsValidDatasetId(datasetId))
        {
            throw new ArgumentException("A dataset id is 1 to 128 characters of [A-Za-z0-9._-].", nameof(datasetId));
        }

        if (!IsValidRegion(region))
        {
            throw new ArgumentException("A region is 1 to 64 characters of [a-z0-9-].", nameof(region));
        }

        if (chunkSize < MinChunkSize || chunkSize > MaxChunkSize)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkSize), $"The chunk size must be {MinChunkSize} to {MaxChunkSize} bytes.");
        }

        long chunkCount = CountChunks(plaintextLength, chunkSize);
        if (chunkCount > MaxChunkCount)
        {
            throw new ArgumentOutOfRangeException(nameof(plaintextLength), $"A dataset holds at most {MaxChunkCount} chunks.");
        }

        EncryptCore(plaintext, plaintextLength, output, key, datasetId, region, chunkSize, chunkCount);
    }

    /// <summary>Parses the header from the first min(file length, <see cref="MaxHeaderLength"/>) bytes.</summary>
    /// <exception cref="EncryptedDatasetException">Malformed, UnsupportedVersion or Truncated.</exception>
    public static DatasetHeader ParseHeader(ReadOnlySpan<byte> prefix)
    {
        int common = Math.Min(prefix.Length, Magic.Length);
        if (!prefix.Slice(0, common).SequenceEqual(Magic.Slice(0, common)))
        {
            throw Error(DatasetError.Malformed, "The file does not start with the magic ENCDS001.");
        }

        if (prefix.Length < 12)
        {
            throw Error(DatasetError.Truncated, "The file ends inside the header.");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(prefix.Slice(8));
        if (version != Version)
        {
            throw Error(DatasetError.UnsupportedVersion, $"The dataset format version {version} is not supported; expected {Version}.");
        }

        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix.Slice(10));
        if (headerLength > MaxHeaderLength)
        {
            throw Error(DatasetError.Malformed, $"The header length {headerLength} exceeds {MaxHeaderLength}.");
        }

        if (headerLength < FixedFieldsLength + 4)
        {
            throw Error(DatasetError.Malformed, $"The header length {headerLength} is too small.");
        }

        if (prefix.Length < headerLength)
        {
            throw Error(DatasetError.Truncated, "The file ends inside the header.");
        }

        return ParseHeaderCore(prefix.Slice(0, headerLength));
    }

    /// <summary>Decrypts record <paramref name="index"/> into <paramref name="plaintext"/>, which must be
    /// exactly <see cref="DatasetHeader.PlaintextChunkLength"/> bytes. On any failure the plaintext is zeroed.</summary>
    /// <param name="header">The header parsed from <paramref name="headerBytes"/>.</param>
    /// <param name="headerBytes">The exact <see cref="DatasetHeader.HeaderLength"/> header bytes of the file.</param>
    /// <param name="key">The 32-byte data key.</param>
    /// <param name="index">The chunk index.</param>
    /// <param name="record">The record: nonce, ciphertext, tag.</param>
    /// <param name="plaintext">Receives the chunk.</param>
    /// <exception cref="ArgumentException">Inconsistent header, bad key size, index or plaintext size.</exception>
    /// <exception cref="EncryptedDatasetException">ChunkAuthenticationFailed, Truncated (record too short) or
    /// TrailingData (record too long).</exception>
    public static void DecryptChunk(
        DatasetHeader header,
        ReadOnlySpan<byte> headerBytes,
        ReadOnlySpan<byte> key,
        long index,
        ReadOnlySpan<byte> record,
        Span<byte> plaintext)
    {
        ArgumentNullException.ThrowIfNull(header);
        CheckKey(key);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, header.ChunkCount);
        if (headerBytes.Length != header.HeaderLength || ParseHeaderCore(headerBytes) != header)
        {
            throw new ArgumentException("The header bytes do not match the parsed header.", nameof(headerBytes));
        }

        if (plaintext.Length != header.PlaintextChunkLength(index))
        {
            throw new ArgumentException($"The plaintext buffer must be {header.PlaintextChunkLength(index)} bytes.", nameof(plaintext));
        }

        Span<byte> headerHash = stackalloc byte[HashSize];
        SHA256.HashData(headerBytes, headerHash);
        using var gcm = new AesGcm(key, TagSize);
        DecryptChunkCore(gcm, header, headerHash, index, record, plaintext);
    }

    /// <summary>Reads and decrypts a whole file, checking the expected dataset id and region, every chunk,
    /// missing data and trailing bytes. Nothing is returned unless every check passes.</summary>
    /// <exception cref="ArgumentException">Bad key size.</exception>
    /// <exception cref="EncryptedDatasetException">Any fault; <see cref="EncryptedDatasetException.Code"/> names it.</exception>
    public static byte[] DecryptAll(Stream input, ReadOnlySpan<byte> key, string expectedDatasetId, string expectedRegion)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(expectedDatasetId);
        ArgumentNullException.ThrowIfNull(expectedRegion);
        CheckKey(key);
        return DecryptAllCore(input, key, expectedDatasetId, expectedRegion);
    }

    /// <summary>True for 1 to 128 characters of [A-Za-z0-9._-].</summary>
    public static bool IsValidDatasetId(string datasetId)
    {
        ArgumentNullException.ThrowIfNull(datasetId);
        return datasetId.Length is >= 1 and <= MaxDatasetIdLength && !datasetId.AsSpan().ContainsAnyExcept(s_datasetIdChars);
    }

    /// <summary>True for 1 to 64 characters of [a-z0-9-].</summary>
    public static bool IsValidRegion(string region)
    {
        ArgumentNullException.ThrowIfNull(region);
        return region.Length is >= 1 and <= MaxRegionLength && !region.AsSpan().ContainsAnyExcept(s_regionChars);
    }

    internal static byte[] BuildHeader(string datasetId, string region, int chunkSize, long plaintextLength, long chunkCount)
    {
        int headerLength = FixedFieldsLength + 2 + datasetId.Length + region.Length;
        byte[] header = new byte[headerLength];
        Span<byte> span = header;
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(8), Version);
        BinaryPrimitives.WriteUInt16LittleEndian(span.Slice(10), (ushort)headerLength);
        BinaryPrimitives.WriteUInt32LittleEndian(span.Slice(12), (uint)chunkSize);
        BinaryPrimitives.WriteUInt64LittleEndian(span.Slice(16), (ulong)plaintextLength);
        BinaryPrimitives.WriteUInt64LittleEndian(span.Slice(24), (ulong)chunkCount);
        int o = FixedFieldsLength;
        span[o++] = (byte)datasetId.Length;
        o += Encoding.ASCII.GetBytes(datasetId, span.Slice(o));
        span[o++] = (byte)region.Length;
        Encoding.ASCII.GetBytes(region, span.Slice(o));
        return header;
    }

    private static void EncryptCore(
        Stream plaintext,
        long plaintextLength,
        Stream output,
        ReadOnlySpan<byte> key,
        string datasetId,
        string region,
        int chunkSize,
        long chunkCount)
    {
        byte[] header = BuildHeader(datasetId, region, chunkSize, plaintextLength, chunkCount);
        output.Write(header);

        Span<byte> aad = stackalloc byte[AadLength];
        SHA256.HashData(header, aad);
        byte[] chunk = new byte[(int)Math.Min(chunkSize, Math.Max(plaintextLength, 1))];
        byte[] record = new byte[chunk.Length + NonceSize + TagSize];
        try
        {
            using var gcm = new AesGcm(key, TagSize);
            long remaining = plaintextLength;
            for (long i = 0; i < chunkCount; i++)
            {
                int length = (int)Math.Min(chunkSize, remaining);
                remaining -= length;
                Span<byte> data = chunk.AsSpan(0, length);
                plaintext.ReadExactly(data);

                WriteAadSuffix(aad, i, i == chunkCount - 1);
                Span<byte> nonce = record.AsSpan(0, NonceSize);
                RandomNumberGenerator.Fill(nonce);
                gcm.Encrypt(
                    nonce,
                    data,
                    record.AsSpan(NonceSize, length),
                    record.AsSpan(NonceSize + length, TagSize),
                    aad);
                output.Write(record, 0, NonceSize + length + TagSize);
            }

            if (plaintext.ReadByte() != -1)
            {
                throw new ArgumentException($"The plaintext stream is longer than {plaintextLength} bytes.", nameof(plaintext));
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(chunk);
        }
    }

    private static DatasetHeader ParseHeaderCore(ReadOnlySpan<byte> header)
    {
        if (header.Length < FixedFieldsLength + 4
            || !header.StartsWith(Magic)
            || BinaryPrimitives.ReadUInt16LittleEndian(header.Slice(8)) != Version
            || BinaryPrimitives.ReadUInt16LittleEndian(header.Slice(10)) != header.Length)
        {
            throw Error(DatasetError.Malformed, "The header fields are inconsistent.");
        }

        uint chunkSize = BinaryPrimitives.ReadUInt32LittleEndian(header.Slice(12));
        if (chunkSize < MinChunkSize || chunkSize > MaxChunkSize)
        {
            throw Error(DatasetError.Malformed, $"The chunk size {chunkSize} is outside {MinChunkSize}..{MaxChunkSize}.");
        }

        ulong plaintextLength = BinaryPrimitives.ReadUInt64LittleEndian(header.Slice(16));
        ulong chunkCount = BinaryPrimitives.ReadUInt64LittleEndian(header.Slice(24));
        if (plaintextLength > (ulong)MaxChunkCount * chunkSize)
        {
            throw Error(DatasetError.Malformed, $"The plaintext length {plaintextLength} needs more than {MaxChunkCount} chunks.");
        }

        long expectedCount = CountChunks((long)plaintextLength, (int)chunkSize);
        if (chunkCount != (ulong)expectedCount)
        {
            throw Error(DatasetError.Malformed, $"The chunk count {chunkCount} does not match the plaintext length (expected {expectedCount}).");
        }

        int o = FixedFieldsLength;
        string datasetId = ReadName(header, ref o, MaxDatasetIdLength, "dataset id");
        if (!IsValidDatasetId(datasetId))
        {
            throw Error(DatasetError.Malformed, "The dataset id is not 1 to 128 characters of [A-Za-z0-9._-].");
        }

        string region = ReadName(header, ref o, MaxRegionLength, "region");
        if (!IsValidRegion(region))
        {
            throw Error(DatasetError.Malformed, "The region is not 1 to 64 characters of [a-z0-9-].");
        }

        if (o != header.Length)
        {
            throw Error(DatasetError.Malformed, $"The header length is {header.Length} but its fields end at {o}.");
        }

        return new DatasetHeader(datasetId, region, (int)chunkSize, (long)plaintextLength, expectedCount, header.Length);
    }

    private static string ReadName(ReadOnlySpan<byte> header, ref int offset, int maxLength, string what)
    {
        if (offset >= header.Length)
        {
            throw Error(DatasetError.Malformed, $"The header ends before the {what}.");
        }

        int length = header[offset++];
        if (length == 0 || length > maxLength || offset + length > header.Length)
        {
            throw Error(DatasetError.Malformed, $"The {what} length {length} is invalid.");
        }

        ReadOnlySpan<byte> bytes = header.Slice(offset, length);
        offset += length;
        if (bytes.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E))
        {
            throw Error(DatasetError.Malformed, $"The {what} contains bytes outside printable ASCII.");
        }

        return Encoding.ASCII.GetString(bytes);
    }

    private static void DecryptChunkCore(
        AesGcm gcm,
        DatasetHeader header,
        ReadOnlySpan<byte> headerHash,
        long index,
        ReadOnlySpan<byte> record,
        Span<byte> plaintext)
    {
        int expected = header.RecordLength(index);
        if (record.Length < expected)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw Error(DatasetError.Truncated, $"Record {index} is {record.Length} bytes; expected {expected}.");
        }

        if (record.Length > expected)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw Error(DatasetError.TrailingData, $"Record {index} is {record.Length} bytes; expected {expected}.");
        }

        Span<byte> aad = stackalloc byte[AadLength];
        headerHash.CopyTo(aad);
        WriteAadSuffix(aad, index, index == header.ChunkCount - 1);
        int length = plaintext.Length;
        try
        {
            gcm.Decrypt(
                record.Slice(0, NonceSize),
                record.Slice(NonceSize, length),
                record.Slice(NonceSize + length, TagSize),
                plaintext,
                aad);
        }
        catch (AuthenticationTagMismatchException ex)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw new EncryptedDatasetException(
                DatasetError.ChunkAuthenticationFailed,
                $"Chunk {index} failed authentication (altered, reordered, truncated, or from another dataset or key).",
                ex);
        }
    }

    private static byte[] DecryptAllCore(Stream input, ReadOnlySpan<byte> key, string expectedDatasetId, string expectedRegion)
    {
        byte[] prefix = new byte[MaxHeaderLength];
        int prefixLength = input.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        DatasetHeader header = ParseHeader(prefix.AsSpan(0, prefixLength));
        if (!string.Equals(header.DatasetId, expectedDatasetId, StringComparison.Ordinal))
        {
            throw Error(DatasetError.WrongDataset, $"The file holds dataset \"{header.DatasetId}\", not \"{expectedDatasetId}\".");
        }

        if (!string.Equals(header.Region, expectedRegion, StringComparison.Ordinal))
        {
            throw Error(DatasetError.WrongRegion, $"The file is for region \"{header.Region}\", not \"{expectedRegion}\".");
        }

        if (header.PlaintextLength > Array.MaxLength)
        {
            throw Error(DatasetError.Malformed, $"The plaintext length {header.PlaintextLength} is too large to return as one array; decrypt by chunk.");
        }

        Span<byte> headerHash = stackalloc byte[HashSize];
        SHA256.HashData(prefix.AsSpan(0, header.HeaderLength), headerHash);
        var reader = new PrefixedReader(prefix, header.HeaderLength, prefixLength, input);
        byte[] record = new byte[header.RecordLength(0) + 1];

        // The result grows as chunks authenticate, so a header that overstates the length costs no memory.
        byte[] result = new byte[(int)Math.Min(header.PlaintextLength, 4L * header.ChunkSize)];
        long written = 0;
        try
        {
            using var gcm = new AesGcm(key, TagSize);
            for (long i = 0; i < header.ChunkCount; i++)
            {
                int recordLength = header.RecordLength(i);
                int read = reader.Read(record.AsSpan(0, recordLength));
                if (read < recordLength)
                {
                    throw Error(
                        DatasetError.Truncated,
                        $"The file ends inside chunk {i} of {header.ChunkCount} ({read} of {recordLength} bytes).");
                }

                int chunkLength = header.PlaintextChunkLength(i);
                result = EnsureCapacity(result, written + chunkLength, header.PlaintextLength);
                DecryptChunkCore(gcm, header, headerHash, i, record.AsSpan(0, recordLength), result.AsSpan((int)written, chunkLength));
                written += chunkLength;
            }

            if (reader.Read(record.AsSpan(0, 1)) != 0)
            {
                throw Error(DatasetError.TrailingData, $"The file has bytes after its last chunk (declared length {header.FileLength}).");
            }

            return result;
        }
        catch
        {
            CryptographicOperations.ZeroMemory(result);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(record);
        }
    }

    private static byte[] EnsureCapacity(byte[] buffer, long needed, long maximum)
    {
        if (needed <= buffer.Length)
        {
            return buffer;
        }

        long size = Math.Min(Math.Max(needed, (long)buffer.Length * 2), maximum);
        byte[] larger = new byte[size];
        buffer.CopyTo(larger, 0);
        CryptographicOperations.ZeroMemory(buffer);
        return larger;
    }

    private static void WriteAadSuffix(Span<byte> aad, long index, bool last)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(aad.Slice(HashSize), (ulong)index);
        aad[HashSize + 8] = last ? (byte)1 : (byte)0;
    }

    private static long CountChunks(long plaintextLength, int chunkSize) =>
        Math.Max(1, (plaintextLength / chunkSize) + (plaintextLength % chunkSize == 0 ? 0 : 1));

    private static void CheckKey(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException("The data key must be 32 bytes (AES-256).", nameof(key));
        }
    }

    private static EncryptedDatasetException Error(DatasetError code, string message) => new(code, message);

    /// <summary>Reads the bytes already consumed into the header prefix, then the rest of the stream.</summary>
    private sealed class PrefixedReader
    {
        private readonly byte[] _prefix;
        private readonly int _prefixEnd;
        private readonly Stream _stream;
        private int _position;

        public PrefixedReader(byte[] prefix, int position, int prefixEnd, Stream stream)
        {
            _prefix = prefix;
            _position = position;
            _prefixEnd = prefixEnd;
            _stream = stream;
        }

        /// <summary>Fills the buffer unless the input ends first; returns the bytes read.</summary>
        public int Read(Span<byte> buffer)
        {
            int fromPrefix = Math.Min(buffer.Length, _prefixEnd - _position);
            _prefix.AsSpan(_position, fromPrefix).CopyTo(buffer);
            _position += fromPrefix;
            if (fromPrefix == buffer.Length)
            {
                return fromPrefix;
            }

            return fromPrefix + _stream.ReadAtLeast(buffer.Slice(fromPrefix), buffer.Length - fromPrefix, throwOnEndOfStream: false);
        }
    }
}
