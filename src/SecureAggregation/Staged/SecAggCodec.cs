// Byte encoding of staged secure-aggregation messages; layout in SecAggMessages.cs and docs/formats.md section 9.
// Decoding is bounded: every count is checked against the bytes that remain before anything is allocated.
using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Enclave.SecureAggregation.Staged;

/// <summary>Encodes and decodes <see cref="SecAggMessage"/>s.</summary>
public static class SecAggCodec
{
    public const int PublicKeyLength = 65;
    public const int SignatureLength = 64;
    public const int DigestLength = 32;
    public const int SharePlaintextLength = 8 + (2 * Field521.EncodedLength);
    public const int ShareCiphertextLength = 12 + SharePlaintextLength + 16;
    public const int MaxRoundIdLength = 128;
    public const int MaxVectorLength = 1 << 28;
    public const int MinRingBits = 8;
    public const int MaxRingBits = 32;
    private static readonly byte[] s_magic = "ENCSAGG1"u8.ToArray();

    public static byte[] Encode(SecAggMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var w = new ArrayBufferWriter<byte>(message is MaskedInput m ? (m.Vector.Length * 4) + 256 : 1024);
        WriteUnsigned(w, message);
        switch (message)
        {
            case AdvertiseKeys a: Put(w, a.Signature, SignatureLength, "signature"); break;
            case ShareKeys s: Put(w, s.Signature, SignatureLength, "signature"); break;
            case MaskedInput mi: Put(w, mi.Signature, SignatureLength, "signature"); break;
            case ConsistencySignature c: Put(w, c.Signature, SignatureLength, "signature"); break;
            case UnmaskResponse u: Put(w, u.Signature, SignatureLength, "signature"); break;
        }

        return w.WrittenSpan.ToArray();
    }

    /// <summary>The bytes a client message's signature covers (its encoding without the signature).</summary>
    public static byte[] SignedBytes(SecAggMessage message)
    {
        var w = new ArrayBufferWriter<byte>(message is MaskedInput m ? (m.Vector.Length * 4) + 256 : 1024);
        WriteUnsigned(w, message);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Feeds the signed bytes of <paramref name="message"/> to <paramref name="hash"/> without copying a masked vector.</summary>
    internal static void AppendSignedBytes(IncrementalHash hash, SecAggMessage message)
    {
        if (message is MaskedInput m)
        {
            var w = new ArrayBufferWriter<byte>(256);
            WriteUnsigned(w, m with { Vector = [] });
            int headerLength = w.WrittenCount - 4;
            hash.AppendData(w.WrittenSpan[..headerLength]);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)m.Vector.Length);
            hash.AppendData(length);
            hash.AppendData(MemoryMarshal.AsBytes(m.Vector.AsSpan()));
            return;
        }

        hash.AppendData(SignedBytes(message));
    }

    /// <summary>The message kind used for signatures of <paramref name="message"/>.</summary>
    public static string SignatureKind(SecAggMessage message) => $"secagg/{message.Type}";

    /// <summary>SHA-256 over the round id and the ascending survivor list, as signed in the consistency check.</summary>
    public static byte[] SurvivorDigest(string roundId, IReadOnlyList<int> survivors)
    {
        var w = new ArrayBufferWriter<byte>();
        w.Write("enclave-secagg-v2 survivors\0"u8);
        WriteString(w, roundId);
        WriteU32(w, survivors.Count);
        foreach (int s in survivors)
        {
            WriteU32(w, s);
        }

        return SHA256.HashData(w.WrittenSpan);
    }

    /// <exception cref="SecAggException">Malformed: the bytes are not one well-formed message.</exception>
    public static SecAggMessage Decode(ReadOnlySpan<byte> bytes)
    {
        var r = new Reader(bytes);
        if (!r.Take(8).SequenceEqual(s_magic))
        {
            throw Malformed("magic is not ENCSAGG1");
        }

        byte type = r.Byte();
        byte stage = r.Byte();
        int idLength = r.Byte();
        if (idLength < 1 || idLength > MaxRoundIdLength)
        {
            throw Malformed($"round id length {idLength} is outside 1..{MaxRoundIdLength}");
        }

        string roundId;
        try
        {
            roundId = new UTF8Encoding(false, true).GetString(r.Take(idLength));
        }
        catch (DecoderFallbackException)
        {
            throw Malformed("round id is not UTF-8");
        }

        SecAggMessage message = type switch
        {
            1 => new AdvertiseKeys(roundId, r.Index(), r.Bytes(PublicKeyLength), r.Bytes(PublicKeyLength), r.Bytes(SignatureLength)),
            2 => ReadKeyDirectory(ref r, roundId),
            3 => ReadShareKeys(ref r, roundId),
            4 => new ShareDelivery(roundId, r.Index(), ReadShares(ref r)),
            5 => ReadMaskedInput(ref r, roundId),
            6 => new SurvivorSet(roundId, r.Index(), ReadIds(ref r, "survivor")),
            7 => new ConsistencySignature(roundId, r.Index(), r.Bytes(DigestLength), r.Bytes(SignatureLength)),
            8 => ReadUnmaskRequest(ref r, roundId),
            9 => ReadUnmaskResponse(ref r, roundId),
            _ => throw Malformed($"unknown message type {type}"),
        };

        if ((byte)message.Stage != stage)
        {
            throw Malformed($"message type {type} belongs to stage {message.Stage}, but the header says stage {stage}");
        }

        if (r.Remaining != 0)
        {
            throw Malformed($"{r.Remaining} trailing bytes");
        }

        return message;
    }

    private static void WriteUnsigned(ArrayBufferWriter<byte> w, SecAggMessage message)
    {
        w.Write(s_magic);
        w.Write([message.Type, (byte)message.Stage]);
        byte[] id = Encoding.UTF8.GetBytes(message.RoundId ?? string.Empty);
        if (id.Length < 1 || id.Length > MaxRoundIdLength)
        {
            throw new ArgumentException($"the round id is 1..{MaxRoundIdLength} UTF-8 bytes", nameof(message));
        }

        w.Write([(byte)id.Length]);
        w.Write(id);
        switch (message)
        {
            case AdvertiseKeys a:
                WriteAdvertiseBody(w, a);
                break;
            case KeyDirectory d:
                WriteU32(w, d.Recipient);
                WriteU32(w, d.Keys.Count);
                foreach (AdvertiseKeys a in d.Keys)
                {
                    WriteAdvertiseBody(w, a);
                    Put(w, a.Signature, SignatureLength, "signature");
                }

                break;
            case ShareKeys s:
                WriteU32(w, s.Sender);
                WriteShares(w, s.Shares);
                break;
            case ShareDelivery s:
                WriteU32(w, s.Recipient);
                WriteShares(w, s.Shares);
                break;
            case MaskedInput m:
                WriteU32(w, m.Sender);
                w.Write([(byte)m.RingBits]);
                WriteU32(w, m.Vector.Length);
                if (!BitConverter.IsLittleEndian)
                {
                    throw new PlatformNotSupportedException("the codec assumes a little-endian platform");
                }

                w.Write(MemoryMarshal.AsBytes(m.Vector.AsSpan()));
                break;
            case SurvivorSet s:
                WriteU32(w, s.Recipient);
                WriteIds(w, s.Survivors);
                break;
            case ConsistencySignature c:
                WriteU32(w, c.Sender);
                Put(w, c.SurvivorDigest, DigestLength, "survivor digest");
                break;
            case UnmaskRequest u:
                WriteU32(w, u.Recipient);
                WriteIds(w, u.Survivors);
                WriteU32(w, u.Signatures.Count);
                foreach (SurvivorSignature sig in u.Signatures)
                {
                    WriteU32(w, sig.Signer);
                    Put(w, sig.Signature, SignatureLength, "signature");
                }

                WriteIds(w, u.SelfMaskOf);
                WriteIds(w, u.MaskKeyOf);
                break;
            case UnmaskResponse u:
                WriteU32(w, u.Sender);
                WriteU32(w, u.Shares.Count);
                foreach (RevealedShare share in u.Shares)
                {
                    WriteU32(w, share.Owner);
                    w.Write([(byte)share.Kind]);
                    Put(w, share.Value, Field521.EncodedLength, "share");
                }

                break;
            default:
                throw new ArgumentException($"unknown message {message.GetType().Name}", nameof(message));
        }
    }

    private static void WriteAdvertiseBody(ArrayBufferWriter<byte> w, AdvertiseKeys a)
    {
        WriteU32(w, a.Sender);
        Put(w, a.EncryptionKey, PublicKeyLength, "encryption key");
        Put(w, a.MaskingKey, PublicKeyLength, "masking key");
    }

    private static void WriteShares(ArrayBufferWriter<byte> w, IReadOnlyList<EncryptedShare> shares)
    {
        WriteU32(w, shares.Count);
        foreach (EncryptedShare s in shares)
        {
            WriteU32(w, s.Peer);
            Put(w, s.Ciphertext, ShareCiphertextLength, "share ciphertext");
        }
    }

    private static void WriteIds(ArrayBufferWriter<byte> w, IReadOnlyList<int> ids)
    {
        WriteU32(w, ids.Count);
        foreach (int id in ids)
        {
            WriteU32(w, id);
        }
    }

    private static void WriteString(ArrayBufferWriter<byte> w, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        WriteU32(w, bytes.Length);
        w.Write(bytes);
    }

    private static void WriteU32(ArrayBufferWriter<byte> w, int value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(w.GetSpan(4), checked((uint)value));
        w.Advance(4);
    }

    private static void Put(ArrayBufferWriter<byte> w, byte[]? value, int length, string what)
    {
        if (value is null || value.Length != length)
        {
            throw new ArgumentException($"{what} must be {length} bytes");
        }

        w.Write(value);
    }

    private static KeyDirectory ReadKeyDirectory(ref Reader r, string roundId)
    {
        int recipient = r.Index();
        int count = r.Count(4 + (2 * PublicKeyLength) + SignatureLength);
        var keys = new AdvertiseKeys[count];
        for (int i = 0; i < count; i++)
        {
            keys[i] = new AdvertiseKeys(roundId, r.Index(), r.Bytes(PublicKeyLength), r.Bytes(PublicKeyLength), r.Bytes(SignatureLength));
        }

        return new KeyDirectory(roundId, recipient, keys);
    }

    private static ShareKeys ReadShareKeys(ref Reader r, string roundId)
    {
        int sender = r.Index();
        EncryptedShare[] shares = ReadShares(ref r);
        return new ShareKeys(roundId, sender, shares, r.Bytes(SignatureLength));
    }

    private static EncryptedShare[] ReadShares(ref Reader r)
    {
        int count = r.Count(4 + ShareCiphertextLength);
        var shares = new EncryptedShare[count];
        for (int i = 0; i < count; i++)
        {
            shares[i] = new EncryptedShare(r.Index(), r.Bytes(ShareCiphertextLength));
        }

        return shares;
    }

    private static MaskedInput ReadMaskedInput(ref Reader r, string roundId)
    {
        int sender = r.Index();
        int ringBits = r.Byte();
        if (ringBits < MinRingBits || ringBits > MaxRingBits)
        {
            throw Malformed($"ring bits {ringBits} outside {MinRingBits}..{MaxRingBits}");
        }

        uint length = r.U32();
        if (length == 0 || length > MaxVectorLength || (long)length * 4 > r.Remaining - SignatureLength)
        {
            throw Malformed($"vector length {length} is zero, above {MaxVectorLength}, or longer than the message");
        }

        var vector = new uint[length];
        MemoryMarshal.Cast<byte, uint>(r.Take((int)length * 4)).CopyTo(vector);
        uint mask = ringBits == 32 ? uint.MaxValue : (1u << ringBits) - 1;
        foreach (uint v in vector)
        {
            if ((v & ~mask) != 0)
            {
                throw Malformed($"a vector element exceeds the {ringBits}-bit ring");
            }
        }

        return new MaskedInput(roundId, sender, ringBits, vector, r.Bytes(SignatureLength));
    }

    private static int[] ReadIds(ref Reader r, string what)
    {
        int count = r.Count(4);
        var ids = new int[count];
        for (int i = 0; i < count; i++)
        {
            ids[i] = r.Index();
        }

        return ids;
    }

    private static UnmaskRequest ReadUnmaskRequest(ref Reader r, string roundId)
    {
        int recipient = r.Index();
        int[] survivors = ReadIds(ref r, "survivor");
        int count = r.Count(4 + SignatureLength);
        var signatures = new SurvivorSignature[count];
        for (int i = 0; i < count; i++)
        {
            signatures[i] = new SurvivorSignature(r.Index(), r.Bytes(SignatureLength));
        }

        return new UnmaskRequest(roundId, recipient, survivors, signatures, ReadIds(ref r, "self-mask owner"), ReadIds(ref r, "mask-key owner"));
    }

    private static UnmaskResponse ReadUnmaskResponse(ref Reader r, string roundId)
    {
        int sender = r.Index();
        int count = r.Count(4 + 1 + Field521.EncodedLength);
        var shares = new RevealedShare[count];
        for (int i = 0; i < count; i++)
        {
            int owner = r.Index();
            byte kind = r.Byte();
            if (kind != (byte)ShareKind.SelfMask && kind != (byte)ShareKind.MaskKey)
            {
                throw Malformed($"unknown share kind {kind}");
            }

            shares[i] = new RevealedShare(owner, (ShareKind)kind, r.Bytes(Field521.EncodedLength));
        }

        return new UnmaskResponse(roundId, sender, shares, r.Bytes(SignatureLength));
    }

    private static SecAggException Malformed(string what) => new(SecAggErrorCode.Malformed, $"secure-aggregation message: {what}");

    private ref struct Reader
    {
        private readonly ReadOnlySpan<byte> _data;
        private int _offset;

        public Reader(ReadOnlySpan<byte> data)
        {
            _data = data;
            _offset = 0;
        }

        public readonly int Remaining => _data.Length - _offset;

        public ReadOnlySpan<byte> Take(int count)
        {
            if (count < 0 || count > Remaining)
            {
                throw Malformed($"truncated: needs {count} bytes at offset {_offset}, {Remaining} remain");
            }

            ReadOnlySpan<byte> s = _data.Slice(_offset, count);
            _offset += count;
            return s;
        }

        public byte Byte() => Take(1)[0];

        public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

        public byte[] Bytes(int count) => Take(count).ToArray();

        /// <summary>A client index in 1..MaxCohortSize.</summary>
        public int Index()
        {
            uint v = U32();
            if (v < 1 || v > SecAggParameters.MaxCohortSize)
            {
                throw Malformed($"client index {v} outside 1..{SecAggParameters.MaxCohortSize}");
            }

            return (int)v;
        }

        /// <summary>A list count, checked against the cohort bound and the bytes that remain.</summary>
        public int Count(int elementSize)
        {
            uint v = U32();
            if (v > SecAggParameters.MaxCohortSize || (long)v * elementSize > Remaining)
            {
                throw Malformed($"list of {v} entries exceeds the cohort bound or the message");
            }

            return (int)v;
        }
    }
}
