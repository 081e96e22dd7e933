// The server side of masked aggregation: sums masked vectors in Z_2^32 and removes revealed self masks.
// Pairwise masks cancel only when every participant that was masked against is in the sum.
namespace Enclave.SecureAggregation;

public sealed class MaskedSum
{
    private readonly uint[] _sum;
    private readonly HashSet<string> _inputs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unmasked = new(StringComparer.Ordinal);

    public MaskedSum(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        _sum = new uint[length];
    }

    public int Length => _sum.Length;

    public IReadOnlyCollection<string> Inputs => _inputs;

    public void Add(string participant, ReadOnlySpan<uint> masked)
    {
        ArgumentException.ThrowIfNullOrEmpty(participant);
        if (masked.Length != _sum.Length)
        {
            throw new ArgumentException($"masked input of {participant} has {masked.Length} elements, expected {_sum.Length}", nameof(masked));
        }

        if (!_inputs.Add(participant))
        {
            throw new InvalidOperationException($"a masked input from {participant} was already added");
        }

        for (int i = 0; i < _sum.Length; i++)
        {
            _sum[i] = unchecked(_sum[i] + masked[i]);
        }
    }

    public void RemoveSelfMask(string participant, ReadOnlySpan<byte> seed)
    {
        if (!_inputs.Contains(participant))
        {
            throw new InvalidOperationException($"{participant} has no masked input in this sum");
        }

        if (!_unmasked.Add(participant))
        {
            throw new InvalidOperationException($"the self mask of {participant} was already removed");
        }

        MaskExpander.Apply(_sum, seed, add: false);
    }

    /// <summary>The unmasked sum; valid once every input's self mask is removed.</summary>
    public ReadOnlySpan<uint> Result
    {
        get
        {
            if (_unmasked.Count != _inputs.Count)
            {
                throw new InvalidOperationException($"{_inputs.Count - _unmasked.Count} self masks are still in the sum");
            }

            return _sum;
        }
    }
}
