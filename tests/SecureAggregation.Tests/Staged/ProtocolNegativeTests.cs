using Enclave.SecureAggregation.Staged;

namespace Enclave.SecureAggregation.Tests.Staged;

public sealed class ProtocolNegativeTests
{
    private const int Length = 16;
    private const int Ring = 32;

    [Fact]
    public void MessagesOfTheWrongStageAreRejectedWithoutChangingState()
    {
        using Cohort cohort = Cohort.Create(SecAggParameters.Explicit(5, 4, 3), Length, Ring);
        AdvertiseKeys ad = cohort.Clients[0].Advertise();
        var masked = new MaskedInput("round-1", 1, Ring, new uint[Length], new byte[64]);
        Assert.Equal(SecAggErrorCode.WrongStage, Assert.Throws<SecAggException>(() => cohort.Server.Receive(masked)).Code);
        Assert.Equal(SecAggErrorCode.WrongStage, Assert.Throws<SecAggException>(() => cohort.Server.CloseShareKeys()).Code);
        Assert.Equal(SecAggErrorCode.WrongStage, Assert.Throws<SecAggException>(() => cohort.Clients[1].HandleSurvivors(new SurvivorSet("round-1", 2, [1, 2, 3]))).Code);
        Assert.Equal(SecAggErrorCode.WrongStage, Assert.Throws<SecAggException>(() => cohort.Clients[0].Advertise()).Code);
        cohort.Server.Receive(ad);
        Assert.Equal(SecAggStage.AdvertiseKeys, cohort.Server.Stage);
        Assert.False(cohort.Clients[1].IsAborted);
    }

    [Fact]
    public void MessagesOfAnotherRoundAreRejected()
    {
        using Cohort cohort = Cohort.Create(SecAggParameters.Explicit(5, 4, 3), Length, Ring);
        AdvertiseKeys ad = cohort.Clients[0].Advertise();
        Assert.Equal(SecAggErrorCode.WrongRound, Assert.Throws<SecAggException>(() => cohort.Server.Receive(ad with { RoundId = "round-2" })).Code);
    }

    [Fact]
    public void BadSignaturesAreRejectedByServerAndClients()
    {
        using Cohort cohort = Cohort.Create(SecAggParameters.Explicit(5, 4, 3), Length, Ring);
        AdvertiseKeys[] ads = [.. cohort.Clients.Select(c => c.Advertise())];
        byte[] tampered = (byte[])ads[0].MaskingKey.Clone();
        AdvertiseKeys forged = ads[0] with { MaskingKey = ads[1].MaskingKey };
        Assert.Equal(SecAggErrorCode.BadSignature, Assert.Throws<SecAggException>(() => cohort.Server.Receive(forged)).Code);
        AdvertiseKeys signedByOther = ads[1] with { Sender = 1 };
        Assert.Equal(SecAggErrorCode.BadSignature, Assert.Throws<SecAggException>(() => cohort.Server.Receive(signedByOther)).Code);

        // A client checks every neighbour's keys itself, whatever the server says.
        var directory = new KeyDirectory("round-1", 2, [forged, ads[2], ads[3], ads[4]]);
        Assert.Equal(SecAggErrorCode.BadSignature, Assert.Throws<SecAggException>(() => cohort.Clients[1].HandleKeys(directory)).Code);
        Assert.True(cohort.Clients[1].IsAborted);
        Assert.Equal(SecAggErrorCode.Aborted, Assert.Throws<SecAggException>(() => cohort.Clients[1].HandleKeys(directory)).Code);
    }

    [Fact]
    public void UnexpectedSendersAreRejected()
    {
        using Cohort cohort = Cohort.Create(SecAggParameters.Explicit(5, 4, 3), Length, Ring);
        AdvertiseKeys[] ads = [.. cohort.Clients.Take(4).Select(c => c.Advertise())];
        foreach (AdvertiseKeys ad in ads)
        {
            cohort.Server.Receive(ad);
        }

        Assert.Equal(SecAggErrorCode.UnexpectedSender, Assert.Throws<SecAggException>(() => cohort.Server.Receive(ads[0])).Code);
        Assert.Equal(SecAggErrorCode.UnexpectedSender, Assert.Throws<SecAggException>(() => cohort.Server.Receive(ads[0] with { Sender = 9 })).Code);
        IReadOnlyList<KeyDirectory> directories = cohort.Server.CloseAdvertiseKeys();

        // Client 5 never advertised: its shares are not expected.
        var late = new ShareKeys("round-1", 5, [], new byte[64]);
        Assert.Equal(SecAggErrorCode.UnexpectedSender, Assert.Throws<SecAggException>(() => cohort.Server.Receive(late)).Code);

        // A directory addressed to someone else is refused by the client.
        Assert.Equal(SecAggErrorCode.UnexpectedSender, Assert.Throws<SecAggException>(() => cohort.Clients[0].HandleKeys(directories[1])).Code);
    }

    [Fact]
    public void ClientRefusesARequestForBothSharesOfOneClient()
    {
        (Cohort cohort, IReadOnlyList<UnmaskRequest> requests) = RunToUnmask(dropBeforeMasking: 5);
        using (cohort)
        {
            UnmaskRequest genuine = requests[0];
            Assert.NotEmpty(genuine.MaskKeyOf);
            int dropped = genuine.MaskKeyOf[0];
            int survivor = genuine.SelfMaskOf.First(s => s != genuine.Recipient);
            UnmaskRequest both = genuine with { MaskKeyOf = [.. genuine.MaskKeyOf, survivor] };
            SecAggClient client = cohort.Clients[genuine.Recipient - 1];
            Assert.Equal(SecAggErrorCode.DoubleRequest, Assert.Throws<SecAggException>(() => client.HandleUnmask(both)).Code);
            Assert.True(client.IsAborted);

            UnmaskRequest bothOther = requests[1] with { SelfMaskOf = [.. requests[1].SelfMaskOf, dropped] };
            SecAggClient second = cohort.Clients[requests[1].Recipient - 1];
            Assert.Equal(SecAggErrorCode.DoubleRequest, Assert.Throws<SecAggException>(() => second.HandleUnmask(bothOther)).Code);
        }
    }

    [Fact]
    public void ClientRefusesRequestsInconsistentWithTheSignedSurvivorSet()
    {
        (Cohort cohort, IReadOnlyList<UnmaskRequest> requests) = RunToUnmask(dropBeforeMasking: 5);
        using (cohort)
        {
            // Mask-key share of a survivor: the server would learn s_u of a client whose input it holds.
            UnmaskRequest r0 = requests[0];
            int survivor = r0.SelfMaskOf.First(s => s != r0.Recipient);
            UnmaskRequest keyOfSurvivor = r0 with { SelfMaskOf = [.. r0.SelfMaskOf.Where(s => s != survivor)], MaskKeyOf = [.. r0.MaskKeyOf, survivor] };
            Assert.Equal(SecAggErrorCode.Inconsistent, Assert.Throws<SecAggException>(() => cohort.Clients[r0.Recipient - 1].HandleUnmask(keyOfSurvivor)).Code);

            // A different survivor set than the one signed.
            UnmaskRequest r1 = requests[1];
            int victim = r1.Survivors.First(s => s != r1.Recipient);
            UnmaskRequest otherSet = r1 with { Survivors = [.. r1.Survivors.Where(s => s != victim)] };
            Assert.Equal(SecAggErrorCode.Inconsistent, Assert.Throws<SecAggException>(() => cohort.Clients[r1.Recipient - 1].HandleUnmask(otherSet)).Code);

            // Too few signatures on the survivor set.
            UnmaskRequest r2 = requests[2];
            UnmaskRequest unsigned = r2 with { Signatures = [.. r2.Signatures.Take(1)] };
            Assert.Equal(SecAggErrorCode.BelowThreshold, Assert.Throws<SecAggException>(() => cohort.Clients[r2.Recipient - 1].HandleUnmask(unsigned)).Code);

            // A forged survivor-set signature.
            UnmaskRequest r3 = requests[3];
            UnmaskRequest forged = r3 with { Signatures = [.. r3.Signatures.Select(s => s with { Signature = r3.Signatures[0].Signature })] };
            Assert.Equal(SecAggErrorCode.BadSignature, Assert.Throws<SecAggException>(() => cohort.Clients[r3.Recipient - 1].HandleUnmask(forged)).Code);
        }
    }

    [Fact]
    public void TamperedSharesFailAuthentication()
    {
        using Cohort cohort = Cohort.Create(SecAggParameters.Explicit(4, 3, 3), Length, Ring);
        foreach (SecAggClient c in cohort.Clients)
        {
            cohort.Server.Receive(c.Advertise());
        }

        foreach (KeyDirectory d in cohort.Server.CloseAdvertiseKeys())
        {
            cohort.Server.Receive(cohort.Clients[d.Recipient - 1].HandleKeys(d));
        }

        IReadOnlyList<ShareDelivery> deliveries = cohort.Server.CloseShareKeys();
        ShareDelivery delivery = deliveries[0];
        byte[] flipped = (byte[])delivery.Shares[0].Ciphertext.Clone();
        flipped[20] ^= 1;
        ShareDelivery bad = delivery with { Shares = [delivery.Shares[0] with { Ciphertext = flipped }, .. delivery.Shares.Skip(1)] };
        Assert.Equal(SecAggErrorCode.BadShare, Assert.Throws<SecAggException>(() => cohort.Clients[0].HandleShares(bad, new uint[Length])).Code);

        // A share moved to another sender's slot fails too (key and AAD bind sender and receiver).
        ShareDelivery d1 = deliveries[1];
        ShareDelivery moved = d1 with { Shares = [d1.Shares[0] with { Ciphertext = d1.Shares[1].Ciphertext }, .. d1.Shares.Skip(1)] };
        Assert.Equal(SecAggErrorCode.BadShare, Assert.Throws<SecAggException>(() => cohort.Clients[d1.Recipient - 1].HandleShares(moved, new uint[Length])).Code);
    }

    [Fact]
    public void ServerRejectsUnaskedShares()
    {
        (Cohort cohort, IReadOnlyList<UnmaskRequest> requests) = RunToUnmask(dropBeforeMasking: 5);
        using (cohort)
        {
            UnmaskRequest r = requests[0];
            UnmaskResponse response = cohort.Clients[r.Recipient - 1].HandleUnmask(r);
            var extra = new RevealedShare(r.MaskKeyOf[0], ShareKind.SelfMask, new byte[66]);
            UnmaskResponse tampered = response with { Shares = [.. response.Shares, extra] };
            Assert.Equal(SecAggErrorCode.BadSignature, Assert.Throws<SecAggException>(() => cohort.Server.Receive(tampered)).Code);
            UnmaskResponse resigned = tampered with { Signature = SecAggRound.Sign(cohort.Signing[r.Recipient - 1], tampered with { Signature = [] }) };
            Assert.Equal(SecAggErrorCode.Inconsistent, Assert.Throws<SecAggException>(() => cohort.Server.Receive(resigned)).Code);
            cohort.Server.Receive(response);
            Assert.Equal(SecAggErrorCode.UnexpectedSender, Assert.Throws<SecAggException>(() => cohort.Server.Receive(response)).Code);
        }
    }

    /// <summary>Seven clients (complete graph, t = 4); client <paramref name="dropBeforeMasking"/> drops after sharing.</summary>
    private static (Cohort, IReadOnlyList<UnmaskRequest>) RunToUnmask(int dropBeforeMasking)
    {
        Cohort cohort = Cohort.Create(SecAggParameters.Explicit(7, 6, 4), Length, Ring);
        foreach (SecAggClient c in cohort.Clients)
        {
            cohort.Server.Receive(Cohort.RoundTrip(c.Advertise()));
        }

        foreach (KeyDirectory d in cohort.Server.CloseAdvertiseKeys())
        {
            cohort.Server.Receive(Cohort.RoundTrip(cohort.Clients[d.Recipient - 1].HandleKeys(d)));
        }

        foreach (ShareDelivery d in cohort.Server.CloseShareKeys().Where(d => d.Recipient != dropBeforeMasking))
        {
            cohort.Server.Receive(cohort.Clients[d.Recipient - 1].HandleShares(d, new uint[Length]));
        }

        foreach (SurvivorSet s in cohort.Server.CloseMaskedInput())
        {
            cohort.Server.Receive(cohort.Clients[s.Recipient - 1].HandleSurvivors(s));
        }

        return (cohort, cohort.Server.CloseConsistencyCheck());
    }
}
