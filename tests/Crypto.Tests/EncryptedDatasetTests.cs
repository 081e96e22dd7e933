using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Enclave.Crypto.Tests;

public sealed class EncryptedDatasetTests
{
    private const int Chunk = EncryptedDataset.MinChunkSize;
    private const string Id = "mnist-eu.v1";
    private const string Region = "eu-west-1";

    private static readonly byte[] s_key = RandomNumberGenerator.GetBytes(32);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(Chunk - 1)]
    [InlineData(Chunk)]
    [InlineData(Chunk + 1)]
    [InlineData((3 * Chunk) + 5)]
    [InlineData(4 * Chunk)]
    public void RoundTrips(int length)
    {
        byte[] plaintext = RandomNumberGenerator.GetBytes(length);
        byte[] file = Encrypt(plaintext);

        DatasetHeader header = EncryptedDataset.ParseHeader(file.AsSpan(0, Math.Min(file.Length, EncryptedDataset.MaxHeaderLength)));
        long chunks = Math.Max(1, (length + Chunk - 1) / Chunk);
        Assert.Equal(new DatasetHeader(Id, Region, Chunk, length, chunks, 34 + Id.Length + Region.Length), header);
        Assert.Equal(file.Length, header.FileLength);
        Assert.Equal(header.HeaderLength + (chunks * (Chunk + 28)) - (Chunk * chunks) + length, file.Length);

        Assert.Equal(plaintext, EncryptedDataset.DecryptAll(new MemoryStream(file), s_key, Id, Region));
        Assert.Equal(plaintext, EncryptedDataset.DecryptAll(new TrickleStream(file), s_key, Id, Region));
    }

    [Fact]
    public void DecryptsEachChunkByOffset()
    {
        byte[] plaintext = RandomNumberGenerator.GetBytes((2 * Chunk) + 100);
        byte[] file = Encrypt(plaintext);
        DatasetHeader header = EncryptedDataset.ParseHeader(file.AsSpan(0, EncryptedDataset.MaxHeaderLength));
        byte[] headerBytes = file.AsSpan(0, header.HeaderLength).ToArray();

        var joined = new List<byte>();
        for (long i = 0; i < header.ChunkCount; i++)
        {
            byte[] chunk = new byte[header.PlaintextChunkLength(i)];
            EncryptedDataset.DecryptChunk(header, headerBytes, s_key, i, file.AsSpan((int)header.RecordOffset(i), header.RecordLength(i)), chunk);
            joined.AddRange(chunk);
        }

        Assert.Equal(100, header.PlaintextChunkLength(2));
        Assert.Equal(plaintext, joined.ToArray());
    }

    [Fact]
    public void HeaderLayoutMatchesTheFormat()
    {
        byte[] file = Encrypt(new byte[5000]);

        Assert.Equal("ENCDS001"u8.ToArray(), file[..8]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8)));
        Assert.Equal(34 + Id.Length + Region.Length, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(10)));
        Assert.Equal((uint)Chunk, BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(12)));
        Assert.Equal(5000UL, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(16)));
        Assert.Equal(2UL, BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(24)));
        Assert.Equal(Id.Length, file[32]);
        Assert.Equal(Region.Length, file[33 + Id.Length]);
    }

    [Fact]
    public void ReorderedChunksFailAuthentication()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(3 * Chunk));
        DatasetHeader header = ParseHeader(file);
        int a = (int)header.RecordOffset(0);
        int b = (int)header.RecordOffset(1);
        int length = header.RecordLength(0);
        byte[] first = file.AsSpan(a, length).ToArray();
        file.AsSpan(b, length).CopyTo(file.AsSpan(a));
        first.CopyTo(file.AsSpan(b));

        EncryptedDatasetException ex = AssertFails(DatasetError.ChunkAuthenticationFailed, file);
        Assert.Contains("Chunk 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ChunkAtAnotherIndexFailsAndZeroesThePlaintext()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(3 * Chunk));
        DatasetHeader header = ParseHeader(file);
        byte[] headerBytes = file.AsSpan(0, header.HeaderLength).ToArray();
        byte[] plaintext = Filled(Chunk);

        EncryptedDatasetException ex = Assert.Throws<EncryptedDatasetException>(() =>
            EncryptedDataset.DecryptChunk(header, headerBytes, s_key, 1, file.AsSpan((int)header.RecordOffset(0), header.RecordLength(0)), plaintext));

        Assert.Equal(DatasetError.ChunkAuthenticationFailed, ex.Code);
        Assert.Contains("Chunk 1", ex.Message, StringComparison.Ordinal);
        Assert.All(plaintext, b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(12)]
    [InlineData(12 + Chunk)]
    public void FlippedRecordBitFailsAndZeroesThePlaintext(int offsetInRecord)
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(2 * Chunk));
        DatasetHeader header = ParseHeader(file);
        byte[] headerBytes = file.AsSpan(0, header.HeaderLength).ToArray();
        byte[] record = file.AsSpan((int)header.RecordOffset(1), header.RecordLength(1)).ToArray();
        record[offsetInRecord] ^= 0x04;
        byte[] plaintext = Filled(Chunk);

        EncryptedDatasetException ex = Assert.Throws<EncryptedDatasetException>(() =>
            EncryptedDataset.DecryptChunk(header, headerBytes, s_key, 1, record, plaintext));

        Assert.Equal(DatasetError.ChunkAuthenticationFailed, ex.Code);
        Assert.All(plaintext, b => Assert.Equal(0, b));
    }

    [Fact]
    public void WrongKeyFailsAuthentication()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(100));
        AssertFails(DatasetError.ChunkAuthenticationFailed, file, key: RandomNumberGenerator.GetBytes(32));
    }

    [Fact]
    public void ChunkMovedFromAnotherDatasetFailsAuthentication()
    {
        byte[] plaintext = RandomNumberGenerator.GetBytes(2 * Chunk);
        byte[] file = Encrypt(plaintext);
        byte[] other = Encrypt(plaintext, id: "other-dataset");
        DatasetHeader header = ParseHeader(file);
        DatasetHeader otherHeader = ParseHeader(other);
        other.AsSpan((int)otherHeader.RecordOffset(1), otherHeader.RecordLength(1)).CopyTo(file.AsSpan((int)header.RecordOffset(1)));

        EncryptedDatasetException ex = AssertFails(DatasetError.ChunkAuthenticationFailed, file);
        Assert.Contains("Chunk 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TruncatedChunkIsReported()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes((2 * Chunk) + 10));
        AssertFails(DatasetError.Truncated, file[..^5]);
        AssertFails(DatasetError.Truncated, file[..^(10 + 28)]);
        AssertFails(DatasetError.Truncated, file[..(ParseHeader(file).HeaderLength + 100)]);
    }

    [Fact]
    public void TruncatedRecordForDecryptChunkIsReportedAndZeroes()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(2 * Chunk));
        DatasetHeader header = ParseHeader(file);
        byte[] headerBytes = file.AsSpan(0, header.HeaderLength).ToArray();
        byte[] plaintext = Filled(Chunk);

        EncryptedDatasetException ex = Assert.Throws<EncryptedDatasetException>(() =>
            EncryptedDataset.DecryptChunk(header, headerBytes, s_key, 0, file.AsSpan((int)header.RecordOffset(0), header.RecordLength(0) - 1), plaintext));

        Assert.Equal(DatasetError.Truncated, ex.Code);
        Assert.All(plaintext, b => Assert.Equal(0, b));
    }

    [Fact]
    public void DroppedLastChunkIsReported()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(3 * Chunk));
        DatasetHeader header = ParseHeader(file);

        AssertFails(DatasetError.Truncated, file[..(int)header.RecordOffset(2)]);
    }

    [Fact]
    public void LastChunkPresentedAsMiddleChunkFails()
    {
        byte[] plaintext = RandomNumberGenerator.GetBytes(2 * Chunk);
        byte[] file = Encrypt(plaintext);
        DatasetHeader header = ParseHeader(file);
        byte[] headerBytes = file.AsSpan(0, header.HeaderLength).ToArray();
        byte[] shorter = Encrypt(plaintext[..Chunk]);
        DatasetHeader shorterHeader = ParseHeader(shorter);
        byte[] chunk = Filled(Chunk);

        EncryptedDatasetException ex = Assert.Throws<EncryptedDatasetException>(() =>
            EncryptedDataset.DecryptChunk(header, headerBytes, s_key, 0, shorter.AsSpan((int)shorterHeader.RecordOffset(0), shorterHeader.RecordLength(0)), chunk));

        Assert.Equal(DatasetError.ChunkAuthenticationFailed, ex.Code);
        Assert.All(chunk, b => Assert.Equal(0, b));
    }

    [Fact]
    public void TruncatedHeaderIsReported()
    {
        byte[] file = Encrypt([1, 2, 3]);
        AssertFails(DatasetError.Truncated, file[..4]);
        AssertFails(DatasetError.Truncated, file[..20]);
        AssertFails(DatasetError.Truncated, []);
    }

    [Fact]
    public void TrailingDataIsReported()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(Chunk + 3));
        AssertFails(DatasetError.TrailingData, [.. file, 0]);
    }

    [Fact]
    public void WrongExpectedIdOrRegionIsReported()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(10));
        Assert.Equal(DatasetError.WrongDataset, Assert.Throws<EncryptedDatasetException>(() => EncryptedDataset.DecryptAll(new MemoryStream(file), s_key, "mnist-eu.v2", Region)).Code);
        Assert.Equal(DatasetError.WrongDataset, Assert.Throws<EncryptedDatasetException>(() => EncryptedDataset.DecryptAll(new MemoryStream(file), s_key, "MNIST-EU.V1", Region)).Code);
        Assert.Equal(DatasetError.WrongRegion, Assert.Throws<EncryptedDatasetException>(() => EncryptedDataset.DecryptAll(new MemoryStream(file), s_key, Id, "us-east-1")).Code);
    }

    [Fact]
    public void HeaderEditedToAnotherRegionFailsAuthentication()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(10), region: "eu-west-1");
        int regionStart = 34 + Id.Length;
        "us-west-1"u8.CopyTo(file.AsSpan(regionStart));

        AssertFails(DatasetError.ChunkAuthenticationFailed, file, region: "us-west-1");
    }

    [Theory]
    [InlineData(0, DatasetError.Malformed)]
    [InlineData(7, DatasetError.Malformed)]
    [InlineData(8, DatasetError.UnsupportedVersion)]
    [InlineData(10, DatasetError.Malformed)]
    [InlineData(13, DatasetError.Malformed)]
    [InlineData(16, DatasetError.ChunkAuthenticationFailed)]
    [InlineData(24, DatasetError.Malformed)]
    [InlineData(32, DatasetError.Malformed)]
    [InlineData(33, DatasetError.WrongDataset)]
    [InlineData(34 + 11, DatasetError.WrongRegion)]
    public void FlippedHeaderByteIsReported(int offset, DatasetError expected)
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(Chunk + 100));
        file[offset] ^= 0x01;

        AssertFails(expected, file);
    }

    [Fact]
    public void EveryHeaderBitFlipIsRejected()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(Chunk + 100));
        int headerLength = ParseHeader(file).HeaderLength;
        for (int offset = 0; offset < headerLength; offset++)
        {
            for (int bit = 0; bit < 8; bit++)
            {
                byte[] copy = (byte[])file.Clone();
                copy[offset] ^= (byte)(1 << bit);
                Assert.Throws<EncryptedDatasetException>(() => EncryptedDataset.DecryptAll(new MemoryStream(copy), s_key, Id, Region));
            }
        }
    }

    [Fact]
    public void OversizedHeaderLengthIsRejected()
    {
        byte[] file = Encrypt([1, 2, 3]);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(10), 2000);

        EncryptedDatasetException ex = AssertFails(DatasetError.Malformed, file);
        Assert.Contains("1024", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HeaderLengthNotMatchingFieldsIsRejected()
    {
        byte[] file = Encrypt([1, 2, 3]);
        int headerLength = ParseHeader(file).HeaderLength;
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(10), (ushort)(headerLength + 1));

        AssertFails(DatasetError.Malformed, file);
    }

    [Theory]
    [InlineData(4095u)]
    [InlineData((16u * 1024 * 1024) + 1)]
    [InlineData(0u)]
    public void ChunkSizeOutOfRangeIsRejected(uint chunkSize)
    {
        byte[] file = Encrypt([1, 2, 3]);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), chunkSize);

        AssertFails(DatasetError.Malformed, file);
    }

    [Fact]
    public void HugeDeclaredLengthIsRejectedWithoutAllocating()
    {
        byte[] file = Encrypt([1, 2, 3]);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(16), ulong.MaxValue);
        AssertFails(DatasetError.Malformed, file);

        byte[] large = Encrypt([1, 2, 3]);
        long plaintextLength = 1L << 40;
        BinaryPrimitives.WriteUInt64LittleEndian(large.AsSpan(16), (ulong)plaintextLength);
        BinaryPrimitives.WriteUInt64LittleEndian(large.AsSpan(24), (ulong)(plaintextLength / Chunk));
        Assert.Equal(plaintextLength, ParseHeader(large).PlaintextLength);
        AssertFails(DatasetError.Malformed, large);

        byte[] medium = Encrypt([1, 2, 3]);
        BinaryPrimitives.WriteUInt64LittleEndian(medium.AsSpan(16), 1UL << 30);
        BinaryPrimitives.WriteUInt64LittleEndian(medium.AsSpan(24), (1UL << 30) / Chunk);
        AssertFails(DatasetError.Truncated, medium);
    }

    [Fact]
    public void InvalidNamesAreRejected()
    {
        Assert.Throws<ArgumentException>(() => Encrypt([1], id: "bad id"));
        Assert.Throws<ArgumentException>(() => Encrypt([1], id: new string('a', 129)));
        Assert.Throws<ArgumentException>(() => Encrypt([1], id: string.Empty));
        Assert.Throws<ArgumentException>(() => Encrypt([1], region: "EU-west"));
        Assert.Throws<ArgumentException>(() => Encrypt([1], region: new string('a', 65)));
        Encrypt([1], id: new string('a', 128), region: new string('b', 64));
    }

    [Fact]
    public void EncryptChecksArguments()
    {
        Assert.Throws<ArgumentException>(() => EncryptedDataset.Encrypt(new MemoryStream(new byte[3]), 3, new MemoryStream(), new byte[16], Id, Region));
        Assert.Throws<ArgumentOutOfRangeException>(() => EncryptedDataset.Encrypt(new MemoryStream(new byte[3]), 3, new MemoryStream(), s_key, Id, Region, 1024));
        Assert.Throws<EndOfStreamException>(() => EncryptedDataset.Encrypt(new MemoryStream(new byte[3]), 4, new MemoryStream(), s_key, Id, Region, Chunk));
        Assert.Throws<ArgumentException>(() => EncryptedDataset.Encrypt(new MemoryStream(new byte[3]), 2, new MemoryStream(), s_key, Id, Region, Chunk));
    }

    [Fact]
    public void DecryptChunkRejectsHeaderBytesThatDoNotMatch()
    {
        byte[] file = Encrypt(RandomNumberGenerator.GetBytes(Chunk + 1));
        DatasetHeader header = ParseHeader(file);
        byte[] otherHeader = Encrypt([1], id: "other").AsSpan(0, header.HeaderLength - Id.Length + 5).ToArray();

        Assert.Throws<ArgumentException>(() => EncryptedDataset.DecryptChunk(
            header, otherHeader, s_key, 0, file.AsSpan((int)header.RecordOffset(0), header.RecordLength(0)), new byte[Chunk]));
        Assert.Throws<ArgumentOutOfRangeException>(() => header.RecordOffset(2));
    }

    [Fact]
    public void NoncesAreFreshPerEncryption()
    {
        byte[] plaintext = new byte[100];
        byte[] first = Encrypt(plaintext);
        byte[] second = Encrypt(plaintext);
        int headerLength = ParseHeader(first).HeaderLength;

        Assert.Equal(first[..headerLength], second[..headerLength]);
        Assert.NotEqual(first[headerLength..], second[headerLength..]);
    }

    private static byte[] Encrypt(byte[] plaintext, string id = Id, string region = Region)
    {
        using var output = new MemoryStream();
        EncryptedDataset.Encrypt(new MemoryStream(plaintext), plaintext.Length, output, s_key, id, region, Chunk);
        return output.ToArray();
    }

    private static DatasetHeader ParseHeader(byte[] file) =>
        EncryptedDataset.ParseHeader(file.AsSpan(0, Math.Min(file.Length, EncryptedDataset.MaxHeaderLength)));

    private static byte[] Filled(int length)
    {
        byte[] buffer = new byte[length];
        Array.Fill(buffer, (byte)0xAA);
        return buffer;
    }

    private static EncryptedDatasetException AssertFails(DatasetError expected, byte[] file, byte[]? key = null, string region = Region)
    {
        EncryptedDatasetException ex = Assert.Throws<EncryptedDatasetException>(() =>
            EncryptedDataset.DecryptAll(new MemoryStream(file), key ?? s_key, Id, region));
        Assert.Equal(expected, ex.Code);
        EncryptedDatasetException viaTrickle = Assert.Throws<EncryptedDatasetException>(() =>
            EncryptedDataset.DecryptAll(new TrickleStream(file), key ?? s_key, Id, region));
        Assert.Equal(expected, viaTrickle.Code);
        return ex;
    }

    /// <summary>A non-seekable stream that returns at most 7 bytes per read.</summary>
    private sealed class TrickleStream : Stream
    {
        private readonly byte[] _data;
        private int _position;

        public TrickleStream(byte[] data)
        {
            _data = data;
        }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int n = Math.Min(Math.Min(7, buffer.Length), _data.Length - _position);
            _data.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
