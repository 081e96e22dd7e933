// Launches the enclave program as a child process and carries its boundary traffic. The host is untrusted: it
// moves frames, performs the enclave's network and disk requests (ocalls), and never sees plaintext or keys.
using System.Diagnostics;
using Enclave.Protocol;
using Enclave.Protocol.Boundary;
using Enclave.Protocol.Broker;
using Enclave.Protocol.Round;
using Enclave.Protocol.Verifier;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Enclave.EnclaveHost;

public sealed class EnclaveProcess : IAsyncDisposable
{
    private readonly HostOptions _options;
    private readonly AttestationVerifier.AttestationVerifierClient _verifier;
    private readonly KeyBroker.KeyBrokerClient _broker;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Process? _process;
    private Configured? _configured;

    public EnclaveProcess(HostOptions options, AttestationVerifier.AttestationVerifierClient verifier, KeyBroker.KeyBrokerClient broker, ILogger logger)
    {
        _options = options;
        _verifier = verifier;
        _broker = broker;
        _logger = logger;
    }

    public Configured? Configured => _configured;

    /// <summary>Sends one request to the enclave, serving its ocalls, and returns its answer.</summary>
    public async Task<EnclaveToHost> CallAsync(HostToEnclave request, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Process process = await EnsureStartedAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await ExchangeAsync(process, request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException)
            {
                Stop();
                throw new RpcException(new Status(StatusCode.Unavailable, $"the enclave stopped: {ex.Message}"));
            }
            catch (OperationCanceledException)
            {
                // An exchange abandoned half way leaves frames in flight; the boundary cannot be resynchronised, so
                // the enclave (and its round state) is discarded and a fresh one starts on the next request.
                Stop();
                throw new RpcException(new Status(StatusCode.Cancelled, "the request was cancelled; the enclave was restarted"));
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<Process> EnsureStartedAsync(CancellationToken cancellationToken)
    {
        if (_process is { HasExited: false })
        {
            return _process;
        }

        string entry = Path.Combine(_options.EnclaveDirectory, "Enclave.EnclaveApp.dll");
        if (!File.Exists(entry))
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, $"no enclave build at {entry}"));
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = _options.EnclaveDirectory,
        };
        start.ArgumentList.Add(entry);
        start.ArgumentList.Add("--platform-dir");
        start.ArgumentList.Add(_options.PlatformDirectory);
        Process process = Process.Start(start) ?? throw new RpcException(new Status(StatusCode.Internal, "the enclave process did not start"));
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                HostLog.EnclaveStderr(_logger, _options.Region, e.Data);
            }
        };
        process.BeginErrorReadLine();
        _process = process;
        HostLog.EnclaveStarted(_logger, _options.Region, process.Id, _options.EnclaveDirectory);

        EnclaveToHost reply = await ExchangeAsync(process, new HostToEnclave
        {
            Configure = new Configure
            {
                RegionHint = _options.Region,
                DiscloseInputsForTests = _options.DiscloseInputsForTests,
            },
        }, cancellationToken).ConfigureAwait(false);
        if (reply.BodyCase != EnclaveToHost.BodyOneofCase.Configured)
        {
            throw new RpcException(new Status(StatusCode.Internal, $"the enclave answered configure with {reply.BodyCase}"));
        }

        _configured = reply.Configured;
        HostLog.EnclaveConfigured(_logger, _options.Region, reply.Configured.Measurement, reply.Configured.PlatformId);
        return process;
    }

    private async Task<EnclaveToHost> ExchangeAsync(Process process, HostToEnclave request, CancellationToken cancellationToken)
    {
        Stream toEnclave = process.StandardInput.BaseStream;
        Stream fromEnclave = process.StandardOutput.BaseStream;
        await BoundaryFrames.WriteAsync(toEnclave, request, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            EnclaveToHost message = await BoundaryFrames.ReadAsync(fromEnclave, EnclaveToHost.Parser, cancellationToken).ConfigureAwait(false)
                ?? throw new IOException("the enclave closed its output");
            switch (message.BodyCase)
            {
                case EnclaveToHost.BodyOneofCase.Log:
                    HostLog.EnclaveLine(_logger, _options.Region, message.Log.Level, message.Log.Message);
                    break;
                case EnclaveToHost.BodyOneofCase.Ocall:
                    OcallResult result = await ServeOcallAsync(message.Ocall, cancellationToken).ConfigureAwait(false);
                    result.CallId = message.Ocall.CallId;
                    await BoundaryFrames.WriteAsync(toEnclave, new HostToEnclave { OcallResult = result }, cancellationToken).ConfigureAwait(false);
                    break;
                case EnclaveToHost.BodyOneofCase.None:
                    throw new InvalidDataException("the enclave sent an empty frame");
                default:
                    return message;
            }
        }
    }

    private async Task<OcallResult> ServeOcallAsync(Ocall call, CancellationToken cancellationToken)
    {
        try
        {
            switch (call.CallCase)
            {
                case Ocall.CallOneofCase.GetNonce:
                    GetNonceResponse nonce = await _broker.GetNonceAsync(new GetNonceRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
                    return new OcallResult { Nonce = nonce.Nonce };
                case Ocall.CallOneofCase.Attest:
                    AttestResponse attested = await _verifier.AttestAsync(new AttestRequest
                    {
                        EvidenceFormat = call.Attest.EvidenceFormat,
                        Evidence = call.Attest.Evidence,
                        RuntimeData = call.Attest.RuntimeData,
                    }, cancellationToken: cancellationToken).ConfigureAwait(false);
                    return new OcallResult { Token = attested.Token };
                case Ocall.CallOneofCase.ReleaseKey:
                    ReleaseKeyResponse released = await _broker.ReleaseKeyAsync(new ReleaseKeyRequest
                    {
                        KeyName = call.ReleaseKey.KeyName,
                        AttestationToken = call.ReleaseKey.AttestationToken,
                    }, cancellationToken: cancellationToken).ConfigureAwait(false);
                    return new OcallResult { ReleasedKey = new ReleasedKey { WrappedKey = released.WrappedKey, KeyVersion = released.KeyVersion, ReceiptId = released.ReceiptId } };
                case Ocall.CallOneofCase.ReadData:
                    return new OcallResult { Data = Google.Protobuf.ByteString.CopyFrom(await DatasetFiles.ReadAsync(_options, call.ReadData, cancellationToken).ConfigureAwait(false)) };
                default:
                    return Fail("UnknownOcall", $"the host does not serve ocall {call.CallCase}");
            }
        }
        catch (RpcException ex)
        {
            string code = ex.Trailers.GetValue("reason-code") ?? ex.StatusCode.ToString();
            return Fail(code, ex.Status.Detail);
        }
        catch (IOException ex)
        {
            return Fail("DataUnavailable", ex.Message);
        }
    }

    private static OcallResult Fail(string code, string message) => new() { Failure = new Failure { Code = code, Message = message } };

    private void Stop()
    {
        try
        {
            if (_process is { HasExited: false })
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        Stop();
        _gate.Dispose();
    }
}
