using Enclave.EnclaveApp.Boundary;
using Enclave.EnclaveApp.Data;
using Enclave.Training;
using Enclave.Protocol;
using Enclave.Protocol.Boundary;

namespace Enclave.Fuzz;

/// <summary>Targets for what the enclave and the host decode from each other.</summary>
internal static class EnclaveTargets
{
    public static void ExampleSet(ReadOnlySpan<byte> input)
    {
        try
        {
            Enclave.Training.ExampleSet.Parse(input);
        }
        catch (ExampleSetFormatException)
        {
        }
    }

    /// <summary>The host's reader of enclave frames: every frame of the input until the stream ends.</summary>
    public static void BoundaryFrames(ReadOnlySpan<byte> input)
    {
        using var stream = new MemoryStream(input.ToArray(), writable: false);
        try
        {
            while (Enclave.Protocol.BoundaryFrames.ReadAsync(stream, EnclaveToHost.Parser).GetAwaiter().GetResult() is not null)
            {
            }
        }
        catch (InvalidDataException)
        {
        }
    }

    /// <summary>The enclave's reader of host requests: every request of the input until the stream ends.</summary>
    public static void HostRequests(ReadOnlySpan<byte> input)
    {
        using var fromHost = new MemoryStream(input.ToArray(), writable: false);
        var channel = new BoundaryChannel(fromHost, Stream.Null);
        try
        {
            while (channel.ReceiveRequestAsync(CancellationToken.None).GetAwaiter().GetResult() is not null)
            {
            }
        }
        catch (BoundaryViolationException)
        {
        }
    }

    /// <summary>Input: one byte choosing the ocall the enclave makes, then the host's frames in answer.</summary>
    public static void OcallResults(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        Ocall call = (input[0] % 4) switch
        {
            0 => new Ocall { GetNonce = new GetNonceCall() },
            1 => new Ocall { Attest = new AttestCall { EvidenceFormat = "simulated" } },
            2 => new Ocall { ReleaseKey = new ReleaseKeyCall { KeyName = "fuzz-key" } },
            _ => new Ocall { ReadData = new ReadDataCall { DatasetId = CryptoTargets.DatasetId, Length = 4096 } },
        };
        using var fromHost = new MemoryStream(input[1..].ToArray(), writable: false);
        var channel = new BoundaryChannel(fromHost, Stream.Null);
        try
        {
            channel.CallAsync(call, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (BoundaryViolationException)
        {
        }
        catch (OcallFailedException)
        {
        }
    }
}
