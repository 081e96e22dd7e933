// The one mapping from verifier outcomes to wire errors: a status code, a stable reason code in the
// "reason-code" trailer, and the message (which names what was wrong, never secrets).
using Enclave.AttestationVerifier.Nodes;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Enclave.AttestationVerifier.Transport;

internal static class StatusMapping
{
    public static RpcException ToRpc(AttestationOutcome outcome)
    {
        StatusCode status = outcome.Error switch
        {
            AttestationError.UnsupportedFormat or AttestationError.RequestTooLarge or AttestationError.MalformedEvidence => StatusCode.InvalidArgument,
            _ => StatusCode.PermissionDenied,
        };
        return Rpc(status, ReasonCode(outcome), outcome.Message);
    }

    public static RpcException ToRpc(EnrollmentOutcome outcome)
    {
        StatusCode status = outcome.Error switch
        {
            EnrollmentError.SignatureInvalid or EnrollmentError.Stale or EnrollmentError.Replayed or EnrollmentError.Superseded => StatusCode.PermissionDenied,
            EnrollmentError.RegionChangeNotConfirmed => StatusCode.FailedPrecondition,
            _ => StatusCode.InvalidArgument,
        };
        return Rpc(status, "Enrollment" + outcome.Error, outcome.Message);
    }

    public static int HttpStatus(AttestationOutcome outcome) => outcome.Error switch
    {
        AttestationError.UnsupportedFormat or AttestationError.MalformedEvidence => StatusCodes.Status400BadRequest,
        AttestationError.RequestTooLarge => StatusCodes.Status413PayloadTooLarge,
        _ => StatusCodes.Status403Forbidden,
    };

    public static string ReasonCode(AttestationOutcome outcome)
    {
        if (outcome.Violations.Count > 0)
        {
            return outcome.Violations[0].Code.ToString();
        }

        if (outcome.VerificationError is { } verification)
        {
            return verification.ToString();
        }

        if (outcome.FormatError is { } format)
        {
            return "Evidence" + format;
        }

        return outcome.Error?.ToString() ?? "Unknown";
    }

    private static RpcException Rpc(StatusCode status, string reason, string message)
    {
        var trailers = new Metadata { { "reason-code", reason } };
        return new RpcException(new Status(status, message), trailers);
    }
}
