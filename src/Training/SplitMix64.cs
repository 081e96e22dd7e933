namespace Enclave.Training;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014): a small, fixed generator, so that shuffles and initial models never
/// change with the runtime or the machine. Not for secrets; see <see cref="DpRandom"/> for the DP-SGD randomness.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        ulong z = _state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform on [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Fisher–Yates with Lemire's multiply-shift index (the order the trainer has always used).</summary>
    public void Shuffle(Span<long> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = (int)Math.BigMul(Next(), (ulong)(i + 1), out _);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}
