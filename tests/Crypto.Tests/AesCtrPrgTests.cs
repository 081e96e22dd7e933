using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Enclave.Crypto.Tests;

public sealed class AesCtrPrgTests
{
    private static readonly byte[] s_nistKey = TestSupport.Hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");

    // NIST SP 800-38A F.5.5 (CTR-AES256.Encrypt): the initial counter block is f0f1...feff and each next
    // block adds 1 to the whole block as a 128-bit big-endian integer, which is exactly the counter of
    // AesCtrPrg. The PRG output is the keystream ("Output Block"), so plaintext XOR output = ciphertext.
    [Fact]
    public void MatchesNistSp800_38A_F55()
    {
        byte[] counter = TestSupport.Hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
        byte[] keystream = new byte[64];
        AesCtrPrg.FillFromCounter(s_nistKey, counter, keystream);

        byte[] expectedOutput = TestSupport.Hex(
            "0bdf7df1591716335e9a8b15c860c502" + "5a6e699d536119065433863c8f657b94" +
            "1bc12c9c01610d5d0d8bd6a3378eca62" + "2956e1c8693536b1bee99c73a31576b6");
        Assert.Equal(expectedOutput, keystream);

        byte[] plaintext = TestSupport.Hex(
            "6bc1bee22e409f96e93d7e117393172a" + "ae2d8a571e03ac9c9eb76fac45af8e51" +
            "30c81c46a35ce411e5fbc1191a0a52ef" + "f69f2445df4f9b17ad2b417be66c3710");
        byte[] ciphertext = TestSupport.Hex(
            "601ec313775789a5b7a7f504bbf3d228" + "f443e3ca4d62b59aca84e990cacaf5c5" +
            "2b0930daa23de94ce87017ba2d84988d" + "dfc9c58db67aada613c2dd08457941a6");
        for (int i = 0; i < plaintext.Length; i++)
        {
            Assert.Equal(ciphertext[i], (byte)(plaintext[i] ^ keystream[i]));
        }
    }

    // Fill(key, output, s) is FillFromCounter with the counter block 0^64 ‖ s.
    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(0xfcfdfeffUL)]
    [InlineData(ulong.MaxValue - 1)]
    public void FillEqualsCounterBlockWithZeroPrefix(ulong startBlock)
    {
        byte[] counter = new byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(counter.AsSpan(8), startBlock);
        byte[] viaCounter = new byte[100];
        byte[] viaFill = new byte[100];

        AesCtrPrg.FillFromCounter(s_nistKey, counter, viaCounter);
        AesCtrPrg.Fill(s_nistKey, viaFill, startBlock);

        Assert.Equal(viaCounter, viaFill);
    }

    [Fact]
    public void MatchesBlockByBlockAesAcrossBatchBoundariesAndCarry()
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        const int blocks = 4200;
        ulong start = ulong.MaxValue - 2000;
        byte[] output = new byte[(blocks * 16) + 7];
        AesCtrPrg.Fill(key, output, start);

        using Aes aes = Aes.Create();
        aes.Key = key;
        byte[] block = new byte[16];
        for (int i = 0; i <= blocks; i++)
        {
            UInt128 counter = (UInt128)start + (UInt128)(ulong)i;
            BinaryPrimitives.WriteUInt128BigEndian(block, counter);
            byte[] expected = aes.EncryptEcb(block, PaddingMode.None);
            int length = Math.Min(16, output.Length - (i * 16));
            Assert.Equal(expected.AsSpan(0, length).ToArray(), output.AsSpan(i * 16, length).ToArray());
        }
    }

    [Fact]
    public void StartBlockSelectsAnOffsetIntoTheSameStream()
    {
        byte[] key = RandomNumberGenerator.GetBytes(32);
        byte[] whole = new byte[1000];
        byte[] tail = new byte[1000 - (5 * 16)];
        byte[] shortOne = new byte[37];

        AesCtrPrg.Fill(key, whole);
        AesCtrPrg.Fill(key, tail, 5);
        AesCtrPrg.Fill(key, shortOne);

        Assert.Equal(whole.AsSpan(80).ToArray(), tail);
        Assert.Equal(whole.AsSpan(0, 37).ToArray(), shortOne);
    }

    [Fact]
    public void DifferentKeysGiveDifferentStreams()
    {
        byte[] key1 = new byte[32];
        byte[] key2 = new byte[32];
        key2[31] = 1;
        byte[] stream1 = new byte[4096];
        byte[] stream2 = new byte[4096];

        AesCtrPrg.Fill(key1, stream1);
        AesCtrPrg.Fill(key2, stream2);

        Assert.NotEqual(stream1, stream2);
        int equalBytes = stream1.Zip(stream2).Count(pair => pair.First == pair.Second);
        Assert.InRange(equalBytes, 0, 64);
    }

    [Fact]
    public void OutputLooksBalanced()
    {
        byte[] stream = new byte[1 << 20];
        AesCtrPrg.Fill(new byte[32], stream);
        long ones = 0;
        foreach (byte b in stream)
        {
            ones += System.Numerics.BitOperations.PopCount(b);
        }

        double fraction = ones / (stream.Length * 8.0);
        Assert.InRange(fraction, 0.499, 0.501);
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentException>(() => AesCtrPrg.Fill(new byte[16], new byte[16]));
        Assert.Throws<ArgumentException>(() => AesCtrPrg.FillFromCounter(new byte[32], new byte[8], new byte[16]));
        AesCtrPrg.Fill(new byte[32], Span<byte>.Empty);
    }
}
