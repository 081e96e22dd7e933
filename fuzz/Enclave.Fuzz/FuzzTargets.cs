namespace Enclave.Fuzz;

/// <summary>
/// Every fuzz target, one line each. A target is a static method taking <see cref="ReadOnlySpan{T}"/> of bytes
/// that calls one parser and catches only that parser's documented exception type; anything else escapes and
/// is a finding. Add a parser by adding one line here (seeds and vectors are optional).
/// </summary>
internal static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        // Attestation verifier
        new("simulated-evidence", VerifierTargets.SimulatedEvidence, "SimulatedEvidenceParser.Parse", Seeds.SimulatedEvidence),
        new("simulated-evidence-verify", VerifierTargets.SimulatedEvidenceVerify, "SimulatedEvidenceVerifier.Verify", Seeds.SimulatedEvidence),
        new("runtime-data", VerifierTargets.RuntimeData, "RuntimeData.TryParse", Seeds.RuntimeData),
        new("enrollment-payload", VerifierTargets.EnrollmentPayload, "EnrollmentRequest.TryReadPayload", Seeds.EnrollmentPayload),
        new("enrollment-request", VerifierTargets.EnrollmentRequest, "NodeRegistry.Enroll (compact JWS)", Seeds.EnrollmentRequest),
        new("enrollment-request-signed", VerifierTargets.EnrollmentRequestSigned, "NodeRegistry.Enroll (signed fuzzed payload)", Seeds.EnrollmentPayload),
        new("endorsement-set", VerifierTargets.EndorsementSet, "EndorsementSet.FromFiles", Seeds.Endorsements, V("sgx-dcap", "intel_sgx_root_ca.der"), V("sgx-dcap", "root_ca_crl.pem"), V("sgx-dcap", "pck_sign_chain.pem"), V("sgx-dcap", "tcb_info.json"), V("sev-snp", "vcek.der"), V("sev-snp", "ask_ark_milan.pem"), V("nitro", "aws_nitro_root_g1.pem")),
        new("dcap-quote", VerifierTargets.DcapQuote, "DcapQuote.Parse (SGX v3, TDX v4/v5)", null, V("sgx-dcap", "quote.bin"), V("tdx-dcap", "quote.bin")),
        new("sev-snp-report", VerifierTargets.SevSnpReport, "SevSnpReport.Parse", null, V("sev-snp", "report.bin")),
        new("nitro-document", VerifierTargets.NitroDocument, "NitroAttestationDocument.Parse (COSE_Sign1, CBOR)", null, V("nitro", "attestation_doc.cbor")),
        new("maa-token", VerifierTargets.MaaToken, "MaaToken.Parse (compact JWS)", null, V("maa-jwt", "token.jwt")),
        new("hardware-verify", VerifierTargets.HardwareVerify, "IHardwareVerifier.Verify of every kind (never throws)", null, V("sgx-dcap", "quote.bin"), V("sev-snp", "report.bin"), V("nitro", "attestation_doc.cbor"), V("maa-jwt", "token.jwt")),
        new("appraisal-policy", VerifierTargets.AppraisalPolicy, "AppraisalPolicy.FromJson", Seeds.AppraisalPolicy),

        // Key broker
        new("release-policy", BrokerTargets.ReleasePolicy, "ReleasePolicy.Parse (PolicyParser)", Seeds.ReleasePolicy, V("skr-policy", "policy.json")),
        new("release-policy-evaluate", BrokerTargets.ReleasePolicyEvaluate, "ReleasePolicy.Evaluate (policy NUL claims)", Seeds.ReleasePolicyEvaluate),
        new("broker-token", BrokerTargets.BrokerToken, "TokenValidator.ValidateAsync (compact JWT)", Seeds.BrokerToken, V("maa-jwt", "token.jwt")),
        new("broker-token-claims", BrokerTargets.BrokerTokenClaims, "TokenValidator.ValidateAsync + EnclaveEncryptionKey (signed fuzzed claims)", Seeds.TokenClaims),
        new("owner-request", BrokerTargets.OwnerRequest, "OwnerRequest.Parse", Seeds.OwnerRequest),

        // JOSE (Crypto)
        new("jws", CryptoTargets.Jws, "Jws.Verify", Seeds.Jws, V("maa-jwt", "token.jwt")),
        new("jwt-claims", CryptoTargets.JwtClaims, "Jwt.Validate (signed fuzzed claims)", Seeds.TokenClaims),
        new("jwe-ecdh", CryptoTargets.JweEcdh, "Jwe.Decrypt (ECDH-ES+A256KW)", Seeds.JweEcdh),
        new("jwe-rsa", CryptoTargets.JweRsa, "Jwe.Decrypt (RSA-OAEP-256)", Seeds.JweRsa),
        new("jwk", CryptoTargets.Jwk, "Jwk.Parse", Seeds.Jwk),
        new("jwks", CryptoTargets.JwkSet, "JwkSet.Parse", Seeds.JwkSet, V("maa-jwt", "jwks.json")),
        new("encrypted-dataset", CryptoTargets.EncryptedDataset, "EncryptedDataset.DecryptAll (ENCDS001)", Seeds.EncryptedDataset),

        // Enclave
        new("example-set", EnclaveTargets.ExampleSet, "ExampleSet.Parse (EXAMPLE1)", Seeds.ExampleSet),
        new("boundary-frames", EnclaveTargets.BoundaryFrames, "BoundaryFrames.ReadAsync (EnclaveToHost, host side)", Seeds.EnclaveToHostFrames),
        new("boundary-host-requests", EnclaveTargets.HostRequests, "BoundaryChannel.ReceiveRequestAsync", Seeds.HostRequestFrames),
        new("boundary-ocall-results", EnclaveTargets.OcallResults, "BoundaryChannel.CallAsync", Seeds.OcallResultFrames),

        // Secure aggregation and the aggregator
        new("secagg-message", AggregationTargets.SecAggMessage, "SecAggCodec.Decode (ENCSAGG1)", Seeds.SecAggMessage),
        new("participant-token-claims", AggregationTargets.ParticipantTokenClaims, "AttestedParticipant.FromToken (signed fuzzed claims)", Seeds.TokenClaims),
        new("model-vector", AggregationTargets.ModelVector, "float32 model vector -> RingQuantizer.Quantize/Dequantize", Seeds.ModelVector),
        new("idx-images", AggregationTargets.IdxImages, "IdxReader.ReadImages", Seeds.IdxImages),
        new("idx-labels", AggregationTargets.IdxLabels, "IdxReader.ReadLabels", Seeds.IdxLabels),
    ];

    private static VectorFiles V(string kind, string file) => new(kind, file);

    public static FuzzTarget? Find(string name) =>
        All.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.Ordinal));
}
