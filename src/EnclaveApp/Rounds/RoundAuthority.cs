// The coordinator's authority over a round, as the enclave checks it (docs/formats.md section 13). Only the
// coordinator keys pinned in the measured image (enclave.config.json) can sign a round specification, the cohort
// it fixes for secure aggregation, and each server message; the host relays these and can change none of them.
using System.Security.Cryptography;
using Enclave.Crypto;
using Enclave.Privacy;
using Enclave.Protocol;
using Enclave.Protocol.Round;
using Enclave.SecureAggregation;
using Enclave.SecureAggregation.Staged;
using Google.Protobuf;

namespace Enclave.EnclaveApp.Rounds;

/// <summary>A round specification whose signature verified and whose fields are within bounds.</summary>
internal sealed class VerifiedSpecification
{
    public VerifiedSpecification(RoundSpecification specification, byte[] sha256, SignedPlan plan)
    {
        Specification = specification;
        Plan = plan;
        Sha256 = sha256;
        Hex = Convert.ToHexStringLower(sha256);
        SessionId = RoundBinding.SessionId(specification.RoundId, sha256);
    }

    public RoundSpecification Specification { get; }

    /// <summary>The model owner's training plan the specification carries, its signature verified.</summary>
    public SignedPlan Plan { get; }

    public byte[] Sha256 { get; }

    public string Hex { get; }

    /// <summary>The staged protocol's session id, which every signed secure-aggregation message carries.</summary>
    public string SessionId { get; }

    public string RoundId => Specification.RoundId;

    public IEnumerable<string> Regions => Specification.Cohort.Select(m => m.Region);

    /// <exception cref="EnclaveFailure">NotInCohort: the specification has no member for the region.</exception>
    public CohortMember MemberFor(string region) =>
        Specification.Cohort.FirstOrDefault(m => m.Region == region)
        ?? throw new EnclaveFailure("NotInCohort", $"the round specification has no participant for region {region}, where this enclave is attested");
}

internal sealed class RoundAuthority
{
    public const int MaxCohort = 1024;
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(1);
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private readonly JwkSet _coordinatorKeys;
    private readonly TimeProvider _time;

    public RoundAuthority(JwkSet coordinatorKeys, TimeProvider time)
    {
        _coordinatorKeys = coordinatorKeys;
        _time = time;
    }

    /// <exception cref="EnclaveFailure">The specification is not signed by a pinned coordinator key, is malformed,
    /// out of bounds or expired, or does not describe <paramref name="globalModel"/>.</exception>
    public VerifiedSpecification VerifySpecification(CoordinatorSigned? signed, ReadOnlySpan<byte> globalModel)
    {
        byte[] payload = VerifySigned(signed, RoundBinding.SpecificationKind, "round specification");
        RoundSpecification spec = Parse(RoundSpecification.Parser, payload, "round specification");
        Check(spec);
        SignedPlan plan = VerifyPlan(spec);
        byte[] modelHash = SHA256.HashData(globalModel);
        if (!CryptographicOperations.FixedTimeEquals(modelHash, spec.GlobalModelSha256.Span))
        {
            throw new EnclaveFailure("GlobalModelMismatch", "the global model sent with the round is not the one its specification names");
        }

        return new VerifiedSpecification(spec, SHA256.HashData(payload), plan);
    }

    /// <exception cref="EnclaveFailure">The begin message is not the coordinator's or is for another specification.</exception>
    public SecAggBegin VerifyBegin(CoordinatorSigned? signed, VerifiedSpecification specification)
    {
        byte[] payload = VerifySigned(signed, RoundBinding.BeginKind, "secure-aggregation cohort");
        SecAggBegin begin = Parse(SecAggBegin.Parser, payload, "secure-aggregation cohort");
        if (!CryptographicOperations.FixedTimeEquals(begin.SpecificationSha256.Span, specification.Sha256))
        {
            throw new EnclaveFailure("SpecificationMismatch", "the secure-aggregation cohort names another round specification");
        }

        if (begin.GraphSeed.Length != 32)
        {
            throw new EnclaveFailure("InvalidSecAggParameters", $"the graph seed has {begin.GraphSeed.Length} bytes; expected 32");
        }

        if (begin.Participants.Count > MaxCohort)
        {
            throw new EnclaveFailure("InvalidSecAggParameters", $"the cohort lists {begin.Participants.Count} participants; at most {MaxCohort}");
        }

        return begin;
    }

    /// <exception cref="EnclaveFailure">The server message is not signed by the coordinator for this specification.</exception>
    public void VerifyStep(SecAggStepRequest step, VerifiedSpecification specification)
    {
        byte[] payload = RoundBinding.StepPayload(specification.Sha256, step.Message.Span);
        if (!VerifyWith(step.KeyId, RoundBinding.StepKind, payload, step.Signature.Span))
        {
            throw new EnclaveFailure("CoordinatorSignatureInvalid", "a secure-aggregation server message is not signed by the pinned coordinator key for this round");
        }
    }

    private byte[] VerifySigned(CoordinatorSigned? signed, string kind, string what)
    {
        if (signed is null || signed.Payload.IsEmpty)
        {
            throw new EnclaveFailure("CoordinatorSignatureInvalid", $"the {what} is missing");
        }

        if (!VerifyWith(signed.KeyId, kind, signed.Payload.Span, signed.Signature.Span))
        {
            throw new EnclaveFailure("CoordinatorSignatureInvalid", $"the {what} is not signed by a coordinator key pinned in this enclave image");
        }

        return signed.Payload.ToByteArray();
    }

    private bool VerifyWith(string keyId, string kind, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature)
    {
        if (string.IsNullOrEmpty(keyId) || _coordinatorKeys.Find(keyId) is not { } jwk)
        {
            return false;
        }

        using ECDsa key = jwk.CreateECDsa();
        return MessageSignature.Verify(key, kind, payload, signature);
    }

    private static T Parse<T>(MessageParser<T> parser, byte[] payload, string what)
        where T : IMessage<T>
    {
        try
        {
            return ProtoWire.Parse(parser, payload);
        }
        catch (InvalidDataException ex)
        {
            throw new EnclaveFailure("RoundSpecificationInvalid", $"the {what} is malformed: {ex.Message}");
        }
    }

    private void Check(RoundSpecification spec)
    {
        static EnclaveFailure Invalid(string detail) => new("RoundSpecificationInvalid", $"the round specification {detail}");

        if (spec.Type != RoundBinding.SpecificationType)
        {
            throw Invalid($"has type \"{spec.Type}\", not \"{RoundBinding.SpecificationType}\"");
        }

        if (!RoundBinding.IsValidRoundId(spec.RoundId))
        {
            throw Invalid($"has a round id that is not 1 to {RoundBinding.MaxRoundIdLength} of [A-Za-z0-9-]");
        }

        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset issued = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(spec.IssuedAt, 0, 253402300799));
        DateTimeOffset expires = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(spec.ExpiresAt, 0, 253402300799));
        if (expires <= issued || expires - issued > MaxLifetime)
        {
            throw Invalid($"is valid for {(expires - issued).TotalMinutes:F0} minutes; 0 to {MaxLifetime.TotalMinutes:F0} are allowed");
        }

        if (issued > now + ClockSkew || expires <= now - ClockSkew)
        {
            throw new EnclaveFailure("RoundSpecificationExpired", $"the round specification is valid from {issued:u} to {expires:u}; it is {now:u}");
        }

        if (spec.GlobalModelSha256.Length != SHA256.HashSizeInBytes)
        {
            throw Invalid("has no 32-byte global model hash");
        }

        SecAggSpecification? s = spec.Secagg;
        if (s is null || s.Quantization is null || !(s.Quantization.Clip > 0 && double.IsFinite(s.Quantization.Clip))
            || s.Quantization.ScaleBits is < 1 or > 30 || s.RingBits is < SecAggCodec.MinRingBits or > SecAggCodec.MaxRingBits
            || !(s.DropoutFraction >= 0 && s.DropoutFraction < 1) || !(s.CorruptionFraction >= 0 && s.CorruptionFraction < 1)
            || s.MinimumCohort < 3)
        {
            throw Invalid("has secure-aggregation settings out of range (clip > 0, scale bits 1-30, a supported ring, fractions in [0, 1), a minimum cohort of at least 3)");
        }

        if (spec.Cohort.Count < s.MinimumCohort || spec.Cohort.Count > MaxCohort)
        {
            throw Invalid($"lists {spec.Cohort.Count} participants; {s.MinimumCohort} to {MaxCohort} are allowed");
        }

        var regions = new HashSet<string>(StringComparer.Ordinal);
        foreach (CohortMember member in spec.Cohort)
        {
            if (!IsName(member.Region, 64) || !regions.Add(member.Region))
            {
                throw Invalid($"lists the region \"{Bounded(member.Region)}\" twice or in a form that is not [a-z0-9-]{{1,64}}");
            }

            if (!IsName(member.DatasetId, 128))
            {
                throw Invalid($"names a dataset \"{Bounded(member.DatasetId)}\" for {member.Region} that is not 1 to 128 of [a-z0-9-]");
            }

            if (string.IsNullOrEmpty(member.KeyId) || member.KeyId.Length > 128 || member.KeyId.Any(char.IsControl))
            {
                throw Invalid($"names no valid data key for {member.Region}");
            }

            if (member.MaxSamples is < 1 or > 1_000_000_000)
            {
                throw Invalid($"caps {member.Region}'s weight at {member.MaxSamples} samples; 1 to 10^9 are allowed");
            }
        }
    }

    // The plan is the model owner's, signed with the key the specification names (its thumbprint is the plan's
    // kid). Nothing pins that key here: data owners pin the plan's hash in their release policies, and the token
    // carries it (runtime data), so a plan they did not allow gets no key.
    private static SignedPlan VerifyPlan(RoundSpecification spec)
    {
        if (string.IsNullOrEmpty(spec.Plan) || string.IsNullOrEmpty(spec.PlanOwnerKey))
        {
            throw SpecificationInvalid("carries no training plan and owner key");
        }

        Jwk owner;
        try
        {
            owner = Jwk.Parse(spec.PlanOwnerKey);
        }
        catch (JoseException ex)
        {
            throw SpecificationInvalid($"names a plan owner key that is not a public JWK: {ex.Message}");
        }

        SignedPlan plan;
        try
        {
            string thumbprint = owner.ComputeThumbprint();
            plan = SignedPlan.Verify(spec.Plan, kid => kid == thumbprint ? owner : null);
        }
        catch (TrainingPlanException ex)
        {
            throw new EnclaveFailure("TrainingPlanInvalid", $"the round's training plan is refused: {ex.Message}");
        }

        if (spec.Round < 1 || spec.Round > plan.Plan.Rounds)
        {
            throw SpecificationInvalid($"is round {spec.Round}; its plan has rounds 1 to {plan.Plan.Rounds}");
        }

        return plan;
    }

    private static EnclaveFailure SpecificationInvalid(string detail) => new("RoundSpecificationInvalid", $"the round specification {detail}");

    private static bool IsName(string value, int max) =>
        !string.IsNullOrEmpty(value) && value.Length <= max && value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    private static string Bounded(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
