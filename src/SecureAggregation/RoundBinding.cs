// How a round specification binds the messages of its round (docs/formats.md section 13). The coordinator signs
// the specification and each of its own secure-aggregation messages with its pinned key; every party derives the
// session id of the staged protocol from the round id and the specification's SHA-256, so that every message a
// client signs names the exact specification it was given, and two clients given different specifications cannot
// accept each other's messages.
using System.Security.Cryptography;

namespace Enclave.SecureAggregation;

public static class RoundBinding
{
    public const string SpecificationType = "enclave-round-spec/1";

    /// <summary>Signature kind of a serialised round specification.</summary>
    public const string SpecificationKind = "round-spec";

    /// <summary>Signature kind of the coordinator's SecAggBegin (the cohort it fixed).</summary>
    public const string BeginKind = "secagg-begin";

    /// <summary>Signature kind of each server message of the staged protocol, over <see cref="StepPayload"/>.</summary>
    public const string StepKind = "secagg-step";

    public const int MaxRoundIdLength = 48;

    /// <summary>The staged protocol's session id: "{round id}.{lower-case hex SHA-256 of the specification}".</summary>
    public static string SessionId(string roundId, ReadOnlySpan<byte> specificationSha256)
    {
        ArgumentException.ThrowIfNullOrEmpty(roundId);
        if (specificationSha256.Length != SHA256.HashSizeInBytes)
        {
            throw new ArgumentException("the specification hash is 32 bytes", nameof(specificationSha256));
        }

        return roundId + "." + Convert.ToHexStringLower(specificationSha256);
    }

    /// <summary>What the coordinator signs for one server message: the specification's SHA-256, then the message.</summary>
    public static byte[] StepPayload(ReadOnlySpan<byte> specificationSha256, ReadOnlySpan<byte> message)
    {
        byte[] payload = new byte[specificationSha256.Length + message.Length];
        specificationSha256.CopyTo(payload);
        message.CopyTo(payload.AsSpan(specificationSha256.Length));
        return payload;
    }

    /// <summary>True when <paramref name="roundId"/> is 1 to 48 of [A-Za-z0-9-].</summary>
    public static bool IsValidRoundId(string? roundId) =>
        !string.IsNullOrEmpty(roundId) && roundId.Length <= MaxRoundIdLength && roundId.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');
}
