// The enclave's side of the host boundary: the only place that reads frames from the host.
// Requests (ecalls) arrive one at a time; while serving one, the enclave may make ocalls and must get back exactly
// the answer to the call it made. Anything else is a protocol violation and ends the enclave.
using Enclave.Protocol;
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Round;

namespace Enclave.EnclaveApp.Boundary;

public sealed class BoundaryViolationException : Exception
{
    public BoundaryViolationException(string message)
        : base(message)
    {
    }
}

/// <summary>An ocall the host answered with a failure (for example a denied key release).</summary>
public sealed class OcallFailedException : Exception
{
    public OcallFailedException(string code, string message)
        : base(message)
    {
        Code = code;
    }

    public string Code { get; }
}

internal sealed class BoundaryChannel
{
    private readonly Stream _fromHost;
    private readonly Stream _toHost;
    private ulong _nextCallId = 1;

    public BoundaryChannel(Stream fromHost, Stream toHost)
    {
        _fromHost = fromHost;
        _toHost = toHost;
    }

    public async Task<HostToEnclave?> ReceiveRequestAsync(CancellationToken cancellationToken)
    {
        HostToEnclave? message = await ReadAsync(cancellationToken).ConfigureAwait(false);
        if (message is null)
        {
            return null;
        }

        if (message.BodyCase is HostToEnclave.BodyOneofCase.None or HostToEnclave.BodyOneofCase.OcallResult)
        {
            throw new BoundaryViolationException($"the host sent {message.BodyCase} where a request was expected");
        }

        HostMessageLimits.Check(message);
        return message;
    }

    public Task SendAsync(EnclaveToHost message, CancellationToken cancellationToken) =>
        BoundaryFrames.WriteAsync(_toHost, message, cancellationToken);

    public Task LogAsync(string level, string text, CancellationToken cancellationToken) =>
        SendAsync(new EnclaveToHost { Log = new LogLine { Level = level, Message = text } }, cancellationToken);

    /// <summary>Makes one ocall and returns the host's answer.</summary>
    /// <exception cref="OcallFailedException">The host reported that the call failed.</exception>
    public async Task<OcallResult> CallAsync(Ocall call, CancellationToken cancellationToken)
    {
        call.CallId = _nextCallId++;
        await SendAsync(new EnclaveToHost { Ocall = call }, cancellationToken).ConfigureAwait(false);
        HostToEnclave? reply = await ReadAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new BoundaryViolationException($"the host closed the boundary during ocall {call.CallCase}");
        if (reply.BodyCase != HostToEnclave.BodyOneofCase.OcallResult || reply.OcallResult.CallId != call.CallId)
        {
            throw new BoundaryViolationException($"the host answered ocall {call.CallId} ({call.CallCase}) with {reply.BodyCase}");
        }

        OcallResult result = reply.OcallResult;
        if (result.ResultCase == OcallResult.ResultOneofCase.Failure)
        {
            throw new OcallFailedException(result.Failure.Code, result.Failure.Message);
        }

        HostMessageLimits.Check(call.CallCase, result);
        return result;
    }

    private async Task<HostToEnclave?> ReadAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await BoundaryFrames.ReadAsync(_fromHost, HostToEnclave.Parser, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            throw new BoundaryViolationException(ex.Message);
        }
    }
}
