// gRPC face of the verifier. Generated types stop here; domain outcomes map to status codes in one place.
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Nodes;
using Enclave.Protocol.Verifier;
using Grpc.Core;

namespace Enclave.AttestationVerifier.Transport;

internal sealed class VerifierGrpcService : Protocol.Verifier.AttestationVerifier.AttestationVerifierBase
{
    private readonly AttestationService _service;

    /// <summary>Longest format name accepted from a caller; every supported one is far shorter.</summary>
    private const int MaxFormatLength = 32;

    /// <summary>A blank format is not an argument error but an unsupported format, answered as such; so is one that
    /// is too long or not <c>[a-z0-9-]</c>, which is then never echoed into logs, messages or trailers (a
    /// megabyte-long name would otherwise be copied into the status detail).</summary>
    public static EvidenceFormat Format(string? value) =>
        string.IsNullOrWhiteSpace(value) || value.Length > MaxFormatLength || !value.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')
            ? default
            : new EvidenceFormat(value);

    public VerifierGrpcService(AttestationService service) => _service = service;

    public override Task<AttestResponse> Attest(AttestRequest request, ServerCallContext context)
    {
        AttestationOutcome outcome = _service.Attest(Format(request.EvidenceFormat), request.Evidence.Span, request.RuntimeData.Span);
        if (!outcome.Succeeded)
        {
            throw StatusMapping.ToRpc(outcome);
        }

        return Task.FromResult(new AttestResponse { Token = outcome.Token!, TokenId = outcome.TokenId! });
    }

    public override Task<EnrollNodeResponse> EnrollNode(EnrollNodeRequest request, ServerCallContext context)
    {
        EnrollmentOutcome outcome = _service.Enroll(request.SignedEnrollment);
        if (!outcome.Succeeded)
        {
            throw StatusMapping.ToRpc(outcome);
        }

        return Task.FromResult(new EnrollNodeResponse { PlatformId = outcome.Enrollment!.PlatformId, Region = outcome.Enrollment.Region });
    }
}
