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
    public const int MaxSpecificationBytes = 1024 * 1024;

    public static void Check(HostToEnclave message)
    {
        switch (message.BodyCase)
        {
            case HostToEnclave.BodyOneofCase.Configure:
                if (message.Configure.RegionHint.Length > MaxIdentifierLength)
                {
                    throw new BoundaryViolationException($"configure.region_hint has more than {MaxIdentifierLength} characters");
                }

                break;
            case HostToEnclave.BodyOneofCase.Prepare:
                PrepareRequest prepare = message.Prepare;
                Signed(prepare.Specification, MaxSpecificationBytes, "prepare.specification");
                if (prepare.GlobalModel.Length == 0 || prepare.GlobalModel.Length % 4 != 0 || prepare.GlobalModel.Length > MaxModelBytes)
                {
                    throw new BoundaryViolationException($"prepare.global_model has {prepare.GlobalModel.Length} bytes; expected a non-empty float32 vector");
                }

                break;
            case HostToEnclave.BodyOneofCase.SecaggBegin:
                Identifier(message.SecaggBegin.RoundId, "secagg_begin.round_id");
                Signed(message.SecaggBegin.Begin, MaxParticipants * (MaxTokenLength + 4096), "secagg_begin.begin");
                break;
            case HostToEnclave.BodyOneofCase.SecaggStep:
                Identifier(message.SecaggStep.RoundId, "secagg_step.round_id");
                if (message.SecaggStep.Message.Length == 0 || message.SecaggStep.Message.Length > MaxModelBytes)
                {
                    throw new BoundaryViolationException($"secagg_step.message has {message.SecaggStep.Message.Length} bytes");
                }

                if (message.SecaggStep.Signature.Length > 128 || message.SecaggStep.KeyId.Length > MaxIdentifierLength)
                {
                    throw new BoundaryViolationException("secagg_step.signature or key_id is too long");
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
        }
    }

    private static void Signed(CoordinatorSigned? signed, int maxPayload, string field)
    {
        if (signed is null || signed.Payload.Length == 0 || signed.Payload.Length > maxPayload)
        {
            throw new BoundaryViolationException($"{field} must carry a signed payload of 1 to {maxPayload} bytes");
        }

        if (signed.Signature.Length > 128 || signed.KeyId.Length > MaxIdentifierLength)
        {
            throw new BoundaryViolationException($"{field} has an oversized signature or key id");
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
