namespace Enclave.AttestationVerifier.Verification;

/// <summary>
/// What appraisal needs from genuine hardware evidence, normalised across kinds.
/// </summary>
/// <param name="Debug">Whether the TEE is debuggable (SGX attributes DEBUG, TDX TD attributes DEBUG, SNP guest
/// policy DEBUG, Nitro all-zero PCR0..2).</param>
/// <param name="Measurements">Code measurements by name, lower-case hex (mr_enclave; mr_td and rtmr0..3;
/// measurement; pcr0..pcr8).</param>
/// <param name="Signer">The code signer's identity, lower-case hex (mr_signer; SNP author key digest), if any.</param>
/// <param name="Svns">Security version numbers by name (isv_svn, isv_prod_id, guest_svn...).</param>
/// <param name="ReportData">The bytes the TEE lets the guest bind (SGX/TDX/SNP report data; Nitro user_data or
/// nonce); appraisal checks them against SHA-512 of the caller's runtime data.</param>
/// <param name="PlatformId">The platform's identity for the node registry, stable per machine: "sgx:&lt;fmspc&gt;:&lt;ppid&gt;",
/// "tdx:&lt;fmspc&gt;:&lt;ppid&gt;", "sev-snp:&lt;chip id&gt;" or "sev-snp-vlek:&lt;vlek sha256&gt;", "nitro:&lt;module id&gt;".</param>
/// <param name="TokenClaims">Claims for the attestation token under Azure Attestation names (x-ms-sgx-mrenclave,
/// x-ms-sevsnpvm-*, TDX EAT profile names...). Values are strings, numbers or booleans.</param>
public sealed record HardwareIdentity(
    bool Debug,
    IReadOnlyDictionary<string, string> Measurements,
    string? Signer,
    IReadOnlyDictionary<string, long> Svns,
    ReadOnlyMemory<byte> ReportData,
    string PlatformId,
    IReadOnlyDictionary<string, object> TokenClaims);
