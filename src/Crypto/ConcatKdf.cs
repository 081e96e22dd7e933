// Concat KDF of NIST SP 800-56A section 5.8.1 as profiled by RFC 7518 section 4.6.2 for ECDH-ES:
// hash SHA-256; OtherInfo = AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖ SuppPubInfo, the first three each a
// 32-bit big-endian length followed by the data, SuppPubInfo = keydatalen in bits (32-bit big-endian),
// SuppPrivInfo empty.

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Enclave.Crypto;

internal static class ConcatKdf
{
    private const int HashSize = 32;

    public static void DeriveKey(
        ReadOnlySpan<byte> sharedSecret,
        string algorithmId,
        ReadOnlySpan<byte> partyUInfo,
        ReadOnlySpan<byte> partyVInfo,
        Span<byte> derivedKey)
    {
        byte[] algorithm = Encoding.ASCII.GetBytes(algorithmId);
        int otherInfoLength = 4 + algorithm.Length + 4 + partyUInfo.Length + 4 + partyVInfo.Length + 4;
        byte[] input = new byte[4 + sharedSecret.Length + otherInfoLength];
        Span<byte> digest = stackalloc byte[HashSize];
        try
        {
            int o = 4;
            sharedSecret.CopyTo(input.AsSpan(o));
            o += sharedSecret.Length;
            o = WriteLengthPrefixed(input, o, algorithm);
            o = WriteLengthPrefixed(input, o, partyUInfo);
            o = WriteLengthPrefixed(input, o, partyVInfo);
            BinaryPrimitives.WriteUInt32BigEndian(input.AsSpan(o), checked((uint)derivedKey.Length * 8));

            int produced = 0;
            for (uint counter = 1; produced < derivedKey.Length; counter++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(input, counter);
                SHA256.HashData(input, digest);
                int take = Math.Min(HashSize, derivedKey.Length - produced);
                digest.Slice(0, take).CopyTo(derivedKey.Slice(produced));
                produced += take;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
            CryptographicOperations.ZeroMemory(digest);
        }
    }

    private static int WriteLengthPrefixed(byte[] destination, int offset, ReadOnlySpan<byte> data)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination.AsSpan(offset), (uint)data.Length);
        data.CopyTo(destination.AsSpan(offset + 4));
        return offset + 4 + data.Length;
    }
}
