// Bounds on everything the host hands the enclave, checked before any other code sees a message.
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Round;

namespace Enclave.EnclaveApp.Boundary;

internal static class HostMessageLimits
{
    public const int MaxParticipants = 1024;
    public const int MaxModelBytes = 64 * 1024 * 1024 - 4096;
    public const int MaxTokenLength = 64 * 1024;
    public const int MaxDataRead = 16 * 1024 * 1024 + 28;
    public const int MaxIdentifierLength = 128;

    public static void Check(HostToEnclave message)
    {
        switch (message.BodyCase)
        {
            case HostToEnclave.BodyOneofCase.Configure:
                Identifier(message.Configure.DatasetId, "configure.dataset_id");
                Identifier(message.Configure.KeyName, "configure.key_name");
                Text(message.Configure.VerifierIssuer, 512, "configure.verifier_issuer");
                break;
            case HostToEnclave.BodyOneofCase.Prepare:
                PrepareRequest prepare = message.Prepare;
                Identifier(prepare.RoundId, "prepare.round_id");
                if (prepare.GlobalModel.Length == 0 || prepare.GlobalModel.Length % 4 != 0 || prepare.GlobalModel.Length > MaxModelBytes)
                {
                    throw new BoundaryViolationException($"prepare.global_model has {prepare.GlobalModel.Length} bytes; expected a non-empty float32 vector");
                }

                if (prepare.Training is null)
                {
                    throw new BoundaryViolationException("prepare.training is missing");
                }

                Count(prepare.AllowedRegions.Count, 256, "prepare.allowed_regions");
                break;
            case HostToEnclave.BodyOneofCase.SecaggBegin:
                Identifier(message.SecaggBegin.RoundId, "secagg_begin.round_id");
                Count(message.SecaggBegin.Participants.Count, MaxParticipants, "secagg_begin.participants");
                if (message.SecaggBegin.Quantization is null)
                {
                    throw new BoundaryViolationException("secagg_begin.quantization is missing");
                }

                if (message.SecaggBegin.GraphSeed.Length != 32)
                {
                    throw new BoundaryViolationException($"secagg_begin.graph_seed has {message.SecaggBegin.GraphSeed.Length} bytes; expected 32");
                }

                break;
            case HostToEnclave.BodyOneofCase.SecaggStep:
                Identifier(message.SecaggStep.RoundId, "secagg_step.round_id");
                if (message.SecaggStep.Message.Length == 0 || message.SecaggStep.Message.Length > MaxModelBytes)
                {
                    throw new BoundaryViolationException($"secagg_step.message has {message.SecaggStep.Message.Length} bytes");
                }

                break;
            case HostToEnclave.BodyOneofCase.ProbeRelease:
                Identifier(message.ProbeRelease.KeyName, "probe_release.key_name");
                break;
        }
    }

    public static void Check(Ocall.CallOneofCase call, OcallResult result)
    {
        OcallResult.ResultOneofCase expected = call switch
        {
            Ocall.CallOneofCase.GetNonce => OcallResult.ResultOneofCase.Nonce,
            Ocall.CallOneofCase.Attest => OcallResult.ResultOneofCase.Token,
            Ocall.CallOneofCase.ReleaseKey => OcallResult.ResultOneofCase.ReleasedKey,
            Ocall.CallOneofCase.ReadData => OcallResult.ResultOneofCase.Data,
            Ocall.CallOneofCase.GetVerifierKeys => OcallResult.ResultOneofCase.Jwks,
            _ => OcallResult.ResultOneofCase.None,
        };
        if (result.ResultCase != expected)
        {
            throw new BoundaryViolationException($"the host answered a {call} ocall with {result.ResultCase}");
        }

        switch (result.ResultCase)
        {
            case OcallResult.ResultOneofCase.Nonce:
                Text(result.Nonce, 256, "ocall_result.nonce");
                break;
            case OcallResult.ResultOneofCase.Token:
                Text(result.Token, MaxTokenLength, "ocall_result.token");
                break;
            case OcallResult.ResultOneofCase.ReleasedKey:
                Text(result.ReleasedKey.WrappedKey, MaxTokenLength, "ocall_result.released_key.wrapped_key");
                break;
            case OcallResult.ResultOneofCase.Data:
                if (result.Data.Length > MaxDataRead)
                {
                    throw new BoundaryViolationException($"the host returned {result.Data.Length} bytes of data; at most {MaxDataRead} may be read at once");
                }

                break;
            case OcallResult.ResultOneofCase.Jwks:
                Text(result.Jwks, MaxTokenLength, "ocall_result.jwks");
                break;
        }
    }

    private static void Identifier(string value, string field)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxIdentifierLength)
        {
            throw new BoundaryViolationException($"{field} must hold 1 to {MaxIdentifierLength} characters");
        }
    }

    private static void Text(string value, int max, string field)
    {
        if (string.IsNullOrEmpty(value) || value.Length > max)
        {
            throw new BoundaryViolationException($"{field} must hold 1 to {max} characters");
        }
    }

    private static void Count(int count, int max, string field)
    {
        if (count > max)
        {
            throw new BoundaryViolationException($"{field} has {count} entries; at most {max} are accepted");
        }
    }
}
