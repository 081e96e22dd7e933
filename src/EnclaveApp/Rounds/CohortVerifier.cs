// The cohort the coordinator fixed for secure aggregation, as the enclave checks it: every participant carries a
// token of the verifier pinned in the image, this enclave's own measurement, a region of the specification's
// cohort and the same specification (in its runtime data and its advertisement), an advertisement signed by that
// token's key, and a weight within its cap. Simulated peers only for a simulated image.
using System.Security.Cryptography;
using Enclave.Crypto;
using Enclave.EnclaveApp.Attestation;
using Enclave.Protocol;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;

namespace Enclave.EnclaveApp.Rounds;

internal static class CohortVerifier
{
    /// <summary>The participants' verification keys (client i is keys[i - 1]; the caller disposes them), their total
    /// weight, and this enclave's client number.</summary>
    /// <exception cref="EnclaveFailure">A participant is not acceptable, or this enclave is not in the cohort.</exception>
    /// <exception cref="ParticipantRejectedException">A participant's token is not acceptable.</exception>
    public static (List<ECDsa> Keys, long TotalSamples, int Self) Verify(SecAggBegin begin, VerifiedSpecification spec, EnclaveConfiguration configuration, Attested self)
    {
        var policy = new ParticipantPolicy([self.Measurement], spec.Regions.ToArray(), AllowSimulated: configuration.Mode == EnclaveMode.Simulated, RequiredSpecification: spec.Hex);
        JwtValidationParameters validation = configuration.TokenValidation();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var keys = new List<ECDsa>(begin.Participants.Count);
        long totalSamples = 0;
        int index = 0;
        try
        {
            foreach (Participant participant in begin.Participants)
            {
                (AttestedParticipant peer, Advertisement ad) = VerifyAdvertisement(participant.Advertisement, validation, policy, spec);
                if (!seen.Add(peer.Region))
                {
                    throw new EnclaveFailure("DuplicateParticipant", $"region {peer.Region} is listed twice");
                }

                long cap = spec.MemberFor(peer.Region).MaxSamples;
                if (ad.SampleCount <= 0 || ad.SampleCount > cap)
                {
                    throw new EnclaveFailure("InvalidParticipant", $"participant {peer.TokenId} claims a weight of {ad.SampleCount}; the specification allows 1 to {cap}");
                }

                totalSamples = checked(totalSamples + ad.SampleCount);
                keys.Add(peer.SigningKey.CreateECDsa());
                if (peer.TokenId == self.TokenId)
                {
                    index = keys.Count;
                }
            }

            if (index == 0)
            {
                throw new EnclaveFailure("NotAParticipant", "this enclave is not among the round's participants");
            }

            if (totalSamples != begin.TotalSamples)
            {
                throw new EnclaveFailure("InvalidParticipant", $"the participants hold {totalSamples} samples, the coordinator says {begin.TotalSamples}");
            }

            return (keys, totalSamples, index);
        }
        catch
        {
            foreach (ECDsa key in keys)
            {
                key.Dispose();
            }

            throw;
        }
    }

    private static (AttestedParticipant Peer, Advertisement Ad) VerifyAdvertisement(SignedMessage? signed, JwtValidationParameters validation, ParticipantPolicy policy, VerifiedSpecification spec)
    {
        if (signed is null || signed.Kind != "advertise")
        {
            throw new EnclaveFailure("InvalidParticipant", "a participant entry is not a signed advertisement");
        }

        Advertisement ad;
        try
        {
            ad = ProtoWire.Parse(Advertisement.Parser, signed.Payload.Span);
        }
        catch (InvalidDataException ex)
        {
            throw new EnclaveFailure("InvalidParticipant", $"a participant advertisement is malformed: {ex.Message}");
        }

        AttestedParticipant peer = AttestedParticipant.FromToken(ad.Token, validation, policy);
        if (!peer.VerifySignature(signed.Kind, signed.Payload.Span, signed.Signature.Span))
        {
            throw new EnclaveFailure("BadSignature", $"the advertisement of {peer.TokenId} is not signed by its attested key");
        }

        if (ad.RoundId != spec.RoundId || ad.Region != peer.Region)
        {
            throw new EnclaveFailure("InvalidParticipant", $"the advertisement of {peer.TokenId} is for another round or region");
        }

        if (!CryptographicOperations.FixedTimeEquals(ad.SpecificationSha256.Span, spec.Sha256))
        {
            throw new EnclaveFailure("SpecificationMismatch", $"the advertisement of {peer.TokenId} was made for another round specification");
        }

        CohortMember member = spec.MemberFor(peer.Region);
        if (ad.DatasetId != member.DatasetId || ad.KeyId != member.KeyId)
        {
            throw new EnclaveFailure("InvalidParticipant", $"the advertisement of {peer.TokenId} names another dataset or key than the specification");
        }

        return (peer, ad);
    }
}
