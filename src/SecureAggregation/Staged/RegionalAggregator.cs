// Two-level aggregation across regions. Inside a region, the regional aggregator (an attested enclave of that
// region) is the server of a staged round among the region's clients and so learns only the regional sum.
// It then takes part in the global round as one client whose input is that regional sum, so only masked
// regional sums leave the region and the global server learns only the total. Both levels use the same ring;
// clients quantise for the total cohort across all regions so that the global sum cannot wrap around.
namespace Enclave.SecureAggregation.Staged;

/// <summary>A region's aggregator: server of its regional round, client of the global round.</summary>
public sealed class RegionalAggregator : IDisposable
{
    private SecAggResult? _regional;

    /// <param name="regionalRound">The round among the region's clients.</param>
    /// <param name="globalRound">The round among regional aggregators.</param>
    /// <param name="globalIndex">This aggregator's index in the global round.</param>
    /// <param name="signingKey">This aggregator's attested signing key.</param>
    /// <exception cref="ArgumentException">The two rounds use different rings or vector lengths.</exception>
    public RegionalAggregator(SecAggRound regionalRound, SecAggRound globalRound, int globalIndex, System.Security.Cryptography.ECDsa signingKey)
    {
        ArgumentNullException.ThrowIfNull(regionalRound);
        ArgumentNullException.ThrowIfNull(globalRound);
        if (regionalRound.RingBits != globalRound.RingBits || regionalRound.VectorLength != globalRound.VectorLength)
        {
            throw new ArgumentException("the regional and global rounds must use the same ring and vector length", nameof(globalRound));
        }

        if (regionalRound.RoundId == globalRound.RoundId)
        {
            throw new ArgumentException("the regional and global rounds need distinct round ids", nameof(globalRound));
        }

        Regional = new SecAggServer(regionalRound);
        Global = new SecAggClient(globalRound, globalIndex, signingKey);
    }

    /// <summary>The server of the region's round.</summary>
    public SecAggServer Regional { get; }

    /// <summary>This aggregator as a client of the global round.</summary>
    public SecAggClient Global { get; }

    /// <summary>Clients of the region whose inputs are in the regional sum (after <see cref="CompleteRegion"/>).</summary>
    public IReadOnlyList<int> RegionalSurvivors => _regional?.Survivors ?? [];

    /// <summary>Finishes the regional round; the regional sum stays inside this aggregator.</summary>
    public void CompleteRegion() => _regional = Regional.CloseUnmask();

    /// <summary>Masks the regional sum for the global round (its stage 3).</summary>
    /// <exception cref="InvalidOperationException">The regional round has not completed.</exception>
    public MaskedInput MaskRegionalSum(ShareDelivery globalShares)
    {
        if (_regional is null)
        {
            throw new InvalidOperationException("the regional round has not completed; there is no regional sum to send");
        }

        return Global.HandleShares(globalShares, _regional.Sum);
    }

    public void Dispose()
    {
        Global.Dispose();
        if (_regional is not null)
        {
            Array.Clear(_regional.Sum);
        }
    }
}
