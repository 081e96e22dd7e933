using System.Security.Cryptography;
using Enclave.SecureAggregation.Staged;

namespace Enclave.SecureAggregation.Tests.Staged;

/// <summary>A cohort of in-process clients and a server; every message crosses the byte codec.</summary>
internal sealed class Cohort : IDisposable
{
    private Cohort(SecAggRound round, ECDsa[] signing)
    {
        Round = round;
        Signing = signing;
        Clients = [.. Enumerable.Range(1, signing.Length).Select(i => new SecAggClient(round, i, signing[i - 1]))];
        Server = new SecAggServer(round);
    }

    public SecAggRound Round { get; }

    public ECDsa[] Signing { get; }

    public SecAggClient[] Clients { get; }

    public SecAggServer Server { get; }

    public static Cohort Create(SecAggParameters parameters, int length, int ringBits, string roundId = "round-1", byte[]? graphSeed = null)
    {
        ECDsa[] signing = [.. Enumerable.Range(0, parameters.CohortSize).Select(_ => ECDsa.Create(ECCurve.NamedCurves.nistP256))];
        var round = new SecAggRound(roundId, parameters, graphSeed ?? new byte[32], length, ringBits, signing);
        return new Cohort(round, signing);
    }

    public static T RoundTrip<T>(T message)
        where T : SecAggMessage => (T)SecAggCodec.Decode(SecAggCodec.Encode(message));

    /// <summary>
    /// Runs a round. <paramref name="dropBefore"/>[i] is the stage (1..5) before which client i + 1 stops
    /// responding, or 0 if it never drops.
    /// </summary>
    public SecAggResult Run(uint[][] inputs, int[] dropBefore)
    {
        SecAggClient C(int index) => Clients[index - 1];
        bool Live(int index, int stage) => dropBefore[index - 1] == 0 || dropBefore[index - 1] > stage;

        foreach (SecAggClient c in Clients.Where(c => Live(c.Self, 1)))
        {
            Server.Receive(RoundTrip(c.Advertise()));
        }

        foreach (KeyDirectory d in Server.CloseAdvertiseKeys().Where(d => Live(d.Recipient, 2)))
        {
            Server.Receive(RoundTrip(C(d.Recipient).HandleKeys(RoundTrip(d))));
        }

        foreach (ShareDelivery d in Server.CloseShareKeys().Where(d => Live(d.Recipient, 3)))
        {
            Server.Receive(RoundTrip(C(d.Recipient).HandleShares(RoundTrip(d), inputs[d.Recipient - 1])));
        }

        foreach (SurvivorSet s in Server.CloseMaskedInput().Where(s => Live(s.Recipient, 4)))
        {
            Server.Receive(RoundTrip(C(s.Recipient).HandleSurvivors(RoundTrip(s))));
        }

        foreach (UnmaskRequest r in Server.CloseConsistencyCheck().Where(r => Live(r.Recipient, 5)))
        {
            Server.Receive(RoundTrip(C(r.Recipient).HandleUnmask(RoundTrip(r))));
        }

        return Server.CloseUnmask();
    }

    /// <summary>The exact sum, mod 2^ringBits, of the inputs of clients that sent a masked input.</summary>
    public static uint[] ExpectedSum(uint[][] inputs, int[] dropBefore, int ringBits)
    {
        uint mask = ringBits == 32 ? uint.MaxValue : (1u << ringBits) - 1;
        var sum = new uint[inputs[0].Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (dropBefore[i] == 0 || dropBefore[i] > 3)
            {
                for (int j = 0; j < sum.Length; j++)
                {
                    sum[j] = unchecked(sum[j] + inputs[i][j]) & mask;
                }
            }
        }

        return sum;
    }

    public void Dispose()
    {
        foreach (SecAggClient c in Clients)
        {
            c.Dispose();
        }

        foreach (ECDsa key in Signing)
        {
            key.Dispose();
        }
    }
}
