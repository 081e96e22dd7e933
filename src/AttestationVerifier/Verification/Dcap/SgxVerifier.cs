using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.Dcap;
using Enclave.AttestationVerifier.Evidence.Dcap;

namespace Enclave.AttestationVerifier.Verification.Dcap;

/// <summary>
/// Verifies Intel SGX DCAP ECDSA quotes (version 3) against the embedded Intel SGX Root CA and the collateral in
/// the endorsement set (dcap-qvl collateral JSON or raw PCS files). See <see cref="DcapQuoteVerifier"/> for the checks.
/// </summary>
public sealed class SgxVerifier : IHardwareVerifier, ISignatureWorkload
{
    private readonly DcapQuoteVerifier _core;

    public SgxVerifier()
        : this(IntelSgxRoot.Load(), EndorsementCollateralSource.Instance)
    {
    }

    public SgxVerifier(IDcapCollateralSource collateral)
        : this(IntelSgxRoot.Load(), collateral)
    {
    }

    /// <summary>With another trust anchor: for tests with their own PKI only.</summary>
    internal SgxVerifier(X509Certificate2 root, IDcapCollateralSource collateral)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(collateral);
        _core = new DcapQuoteVerifier(tdx: false, root, collateral);
    }

    public string Kind => "sgx";

    public bool Recognizes(ReadOnlySpan<byte> evidence) => DcapQuote.LooksLike(evidence, DcapQuote.TeeTypeSgx);

    public HardwareVerificationReport Verify(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at) =>
        _core.Verify(evidence, endorsements, at);

    public Func<bool> CreateSignatureWorkload(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at) =>
        _core.CreateSignatureWorkload(evidence, endorsements);
}
