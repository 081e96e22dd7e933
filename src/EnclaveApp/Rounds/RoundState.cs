// The state of the round an enclave has prepared: its verified specification, the keys born for it, what the
// verifier attested, the local update and, once secure aggregation has begun, the masking client. Enclave memory
// only; disposed (keys, update and input cleared) when the next round is prepared.
using System.Security.Cryptography;
using Enclave.EnclaveApp.Attestation;
using Enclave.EnclaveApp.Keys;
using Enclave.SecureAggregation.Staged;

namespace Enclave.EnclaveApp.Rounds;

internal sealed class RoundState : IDisposable
{
    public RoundState(VerifiedSpecification specification, RoundKeys keys, Attested attested, float[] delta)
    {
        Specification = specification;
        Keys = keys;
        Attested = attested;
        Delta = delta;
    }

    public VerifiedSpecification Specification { get; }

    public RoundKeys Keys { get; }

    public Attested Attested { get; }

    public float[] Delta { get; }

    public long SampleCount { get; init; }

    public SecAggClient? SecAgg { get; private set; }

    public uint[] Input { get; private set; } = [];

    private ECDsa[] VerificationKeys { get; set; } = [];

    public void BeginSecAgg(SecAggClient client, uint[] input, List<ECDsa> verificationKeys)
    {
        SecAgg = client;
        Input = input;
        VerificationKeys = [.. verificationKeys];
    }

    /// <summary>Forgets the unmasked input once its masked form has been produced.</summary>
    public void ClearInput() => Array.Clear(Input);

    public void Dispose()
    {
        Keys.Dispose();
        SecAgg?.Dispose();
        foreach (ECDsa key in VerificationKeys)
        {
            key.Dispose();
        }

        Array.Clear(Input);
        Array.Clear(Delta);
    }
}
