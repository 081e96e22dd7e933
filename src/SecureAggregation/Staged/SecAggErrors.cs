// Typed errors of the staged secure-aggregation protocol. Every rejection names a code and what was wrong.
namespace Enclave.SecureAggregation.Staged;

/// <summary>Why a staged secure-aggregation message or round was rejected.</summary>
public enum SecAggErrorCode
{
    /// <summary>The bytes are not a well-formed message.</summary>
    Malformed,

    /// <summary>The message belongs to another round.</summary>
    WrongRound,

    /// <summary>The message is for a stage the receiver is not in.</summary>
    WrongStage,

    /// <summary>The sender is not in the cohort, not expected at this stage, or already heard from.</summary>
    UnexpectedSender,

    /// <summary>A signature does not verify under the sender's attested key.</summary>
    BadSignature,

    /// <summary>An encrypted share failed authentication.</summary>
    BadShare,

    /// <summary>An unmask request asks for both the self-mask and the mask-key share of one client.</summary>
    DoubleRequest,

    /// <summary>A request or set contradicts what this party saw or the signed survivor set.</summary>
    Inconsistent,

    /// <summary>Fewer than the threshold remain in some neighbourhood: the round is abandoned, nothing is revealed.</summary>
    BelowThreshold,

    /// <summary>The party already aborted this round.</summary>
    Aborted,
}

/// <summary>A staged secure-aggregation message or round was rejected.</summary>
public sealed class SecAggException : Exception
{
    public SecAggException(SecAggErrorCode code, string message)
        : base($"{code}: {message}")
    {
        Code = code;
    }

    public SecAggErrorCode Code { get; }
}
