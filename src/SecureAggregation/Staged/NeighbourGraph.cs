// The neighbour graph of a round (SecAgg+, Bell et al. CCS 2020): a Harary graph H(n, k) over positions
// 0..n-1 (position i adjacent to i +/- 1..k/2 mod n) with clients placed at positions by a random permutation
// drawn from a public 32-byte seed, or the complete graph when k = n - 1. The permutation is a Fisher-Yates
// shuffle driven by AES-256-CTR(seed) with rejection sampling, so every party derives the same graph.
// Clients are numbered 1..n.
using System.Buffers.Binary;
using Enclave.Crypto;

namespace Enclave.SecureAggregation.Staged;

/// <summary>Who shares secrets and masks with whom in one round.</summary>
public sealed class NeighbourGraph
{
    public const int SeedLength = 32;

    private readonly int[] _positionOf;
    private readonly int[] _atPosition;

    /// <exception cref="ArgumentException">The seed is not 32 bytes.</exception>
    public NeighbourGraph(SecAggParameters parameters, ReadOnlySpan<byte> seed)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (seed.Length != SeedLength)
        {
            throw new ArgumentException($"the graph seed is {SeedLength} bytes", nameof(seed));
        }

        Parameters = parameters;
        int n = parameters.CohortSize;
        _atPosition = new int[n];
        for (int i = 0; i < n; i++)
        {
            _atPosition[i] = i + 1;
        }

        if (!parameters.IsComplete)
        {
            var random = new byte[Math.Max(64, n * 8)];
            AesCtrPrg.Fill(seed, random);
            int cursor = 0;
            ulong block = (ulong)(random.Length / 16);
            for (int i = n - 1; i > 0; i--)
            {
                ulong bound = (ulong)(i + 1);
                ulong limit = ulong.MaxValue - (ulong.MaxValue % bound);
                ulong r;
                do
                {
                    if (cursor + 8 > random.Length)
                    {
                        AesCtrPrg.Fill(seed, random, block);
                        block += (ulong)(random.Length / 16);
                        cursor = 0;
                    }

                    r = BinaryPrimitives.ReadUInt64LittleEndian(random.AsSpan(cursor, 8));
                    cursor += 8;
                }
                while (r >= limit);

                int j = (int)(r % bound);
                (_atPosition[i], _atPosition[j]) = (_atPosition[j], _atPosition[i]);
            }
        }

        _positionOf = new int[n + 1];
        for (int p = 0; p < n; p++)
        {
            _positionOf[_atPosition[p]] = p;
        }
    }

    public SecAggParameters Parameters { get; }

    public int CohortSize => Parameters.CohortSize;

    /// <summary>The neighbours of client <paramref name="client"/> (1-based), ascending, excluding itself.</summary>
    public int[] NeighboursOf(int client)
    {
        CheckClient(client);
        int n = CohortSize;
        if (Parameters.IsComplete)
        {
            var all = new int[n - 1];
            for (int i = 1, w = 0; i <= n; i++)
            {
                if (i != client)
                {
                    all[w++] = i;
                }
            }

            return all;
        }

        int half = Parameters.Degree / 2;
        int pos = _positionOf[client];
        var result = new int[2 * half];
        for (int j = 1; j <= half; j++)
        {
            result[(2 * j) - 2] = _atPosition[(pos + j) % n];
            result[(2 * j) - 1] = _atPosition[((pos - j) % n + n) % n];
        }

        Array.Sort(result);
        return result;
    }

    public bool AreNeighbours(int a, int b)
    {
        CheckClient(a);
        CheckClient(b);
        if (a == b)
        {
            return false;
        }

        if (Parameters.IsComplete)
        {
            return true;
        }

        int n = CohortSize;
        int distance = Math.Abs(_positionOf[a] - _positionOf[b]);
        distance = Math.Min(distance, n - distance);
        return distance <= Parameters.Degree / 2;
    }

    private void CheckClient(int client)
    {
        if (client < 1 || client > CohortSize)
        {
            throw new ArgumentOutOfRangeException(nameof(client), client, $"clients are numbered 1..{CohortSize}");
        }
    }
}
