using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Enclave.Training;

/// <summary>
/// The randomness of DP-SGD: Poisson sampling and Gaussian noise from AES-256 in counter mode (a CTR-DRBG without
/// reseeding, NIST SP 800-90A section 10.2, 2^-128-close to uniform for the few gigabytes one run draws).
/// </summary>
/// <remarks>
/// <see cref="CreateSecret"/> keys it from <see cref="RandomNumberGenerator"/>; that is the only production path.
/// <see cref="CreateForTests"/> derives the key from a 64-bit seed (SHA-256 of a label and the seed) so that tests can
/// repeat a run; nothing outside tests may use it, since whoever knows the seed can subtract the noise.
/// Uniforms have 53 bits; Gaussians come from the Box–Muller transform in double precision, rounded once to float.
/// Floating-point Gaussian sampling is not exactly the continuous mechanism the accountant assumes (Mironov 2012 for
/// Laplace); the quantisation that follows in the enclave coarsens the low bits this concerns.
/// </remarks>
internal sealed class DpRandom : IDisposable
{
    private const int BufferBytes = 4096;
    private const string TestLabel = "enclave/dp-sgd/test-only/v1";

    private readonly Aes _aes;
    private readonly byte[] _counter = new byte[BufferBytes];
    private readonly byte[] _stream = new byte[BufferBytes];
    private ulong _block;
    private int _position = BufferBytes;

    private DpRandom(byte[] key)
    {
        _aes = Aes.Create();
        _aes.Key = key;
        CryptographicOperations.ZeroMemory(key);
    }

    /// <summary>A generator keyed by 256 bits from the operating system's CSPRNG.</summary>
    public static DpRandom CreateSecret() => new(RandomNumberGenerator.GetBytes(32));

    /// <summary>A repeatable generator for tests only; see the remarks.</summary>
    public static DpRandom CreateForTests(ulong seed)
    {
        var input = new byte[TestLabel.Length + 8];
        System.Text.Encoding.ASCII.GetBytes(TestLabel, input);
        BinaryPrimitives.WriteUInt64LittleEndian(input.AsSpan(TestLabel.Length), seed);
        return new DpRandom(SHA256.HashData(input));
    }

    /// <summary>Uniform on [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Adds the indices of 0..count-1 to <paramref name="sample"/>, each independently with probability q.</summary>
    public void PoissonSample(int count, double q, List<long> sample)
    {
        sample.Clear();
        for (int i = 0; i < count; i++)
        {
            if (NextDouble() < q)
            {
                sample.Add(i);
            }
        }
    }

    /// <summary>Fills <paramref name="values"/> with independent draws of N(0, std²).</summary>
    public void FillGaussian(Span<float> values, double std)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = 1.0 - NextDouble();
            double u2 = NextDouble();
            double radius = std * Math.Sqrt(-2.0 * Math.Log(u1));
            (double sin, double cos) = Math.SinCos(2.0 * Math.PI * u2);
            values[i] = (float)(radius * cos);
            if (i + 1 < values.Length)
            {
                values[i + 1] = (float)(radius * sin);
            }
        }
    }

    public void Dispose() => _aes.Dispose();

    private ulong NextUInt64()
    {
        if (_position == BufferBytes)
        {
            Refill();
        }

        ulong value = BinaryPrimitives.ReadUInt64LittleEndian(_stream.AsSpan(_position));
        _position += 8;
        return value;
    }

    private void Refill()
    {
        for (int offset = 0; offset < BufferBytes; offset += 16)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(_counter.AsSpan(offset), _block++);
            BinaryPrimitives.WriteUInt64LittleEndian(_counter.AsSpan(offset + 8), 0);
        }

        _aes.EncryptEcb(_counter, _stream, PaddingMode.None);
        _position = 0;
    }
}
