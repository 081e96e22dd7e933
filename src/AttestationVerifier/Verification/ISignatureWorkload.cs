using Enclave.AttestationVerifier.Endorsements;

namespace Enclave.AttestationVerifier.Verification;

/// <summary>
/// Implemented by a hardware verifier to let `scripts/bench.sh verify` time the bare signature checks one
/// <see cref="IHardwareVerifier.Verify"/> call performs with warm collateral, side by side with the full call,
/// so the benchmark can report how close verification is to its cryptographic cost.
/// </summary>
public interface ISignatureWorkload
{
    /// <summary>
    /// Prepares (parsing, key import, digest inputs) and returns an action that performs exactly the signature
    /// verifications a warm <see cref="IHardwareVerifier.Verify"/> of the same evidence performs, and nothing
    /// else. The action returns whether every signature verified.
    /// </summary>
    Func<bool> CreateSignatureWorkload(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at);
}
