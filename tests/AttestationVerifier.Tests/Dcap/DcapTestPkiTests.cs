using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Dcap;

namespace Enclave.AttestationVerifier.Tests.Dcap;

/// <summary>
/// Cases Intel's own data cannot give (revocation, debug enclaves, every TCB status), on a test PKI shaped like
/// Intel's whose root is injected as the verifier's anchor.
/// </summary>
public sealed class DcapTestPkiTests : IDisposable
{
    private readonly DcapTestPki _pki = new();

    public static TheoryData<bool> Kinds => new() { false, true };

    public void Dispose() => _pki.Dispose();

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Test_pki_quote_verifies(bool tdx)
    {
        HardwareVerificationReport report = Verify(tdx, new TestQuoteOptions { Tdx = tdx }, new TestCollateralOptions());

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal(TcbStatus.UpToDate, report.TcbStatus);
        Assert.False(report.Identity!.Debug);
        Assert.Equal($"{(tdx ? "tdx" : "sgx")}:{DcapTestPki.FmspcHex}:00112233445566778899aabbccddeeff", report.Identity.PlatformId);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Debug_enclave_is_genuine_and_reported_as_debug(bool tdx)
    {
        HardwareVerificationReport report = Verify(tdx, new TestQuoteOptions { Tdx = tdx, Debug = true }, new TestCollateralOptions());

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.True(report.Identity!.Debug);
        Assert.Equal(true, report.Identity.TokenClaims[tdx ? "tdx_td_attributes_debug" : "x-ms-sgx-is-debuggable"]);
    }

    [Fact]
    public void Tdx_v5_td15_quote_verifies_with_its_extra_fields()
    {
        HardwareVerificationReport report = Verify(true, new TestQuoteOptions { Tdx = true, Version = 5, Td15 = true, Debug = true }, new TestCollateralOptions());

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal("TD15", report.Claims["body_type"]);
        Assert.True(report.Claims.ContainsKey("body.mr_servicetd"));
        Assert.True(report.Identity!.Debug);
    }

    [Fact]
    public void Tdx_v5_td10_quote_verifies()
    {
        HardwareVerificationReport report = Verify(true, new TestQuoteOptions { Tdx = true, Version = 5 }, new TestCollateralOptions());

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal("TD10", report.Claims["body_type"]);
    }

    public static TheoryData<bool, string, string, string, string> Statuses()
    {
        var data = new TheoryData<bool, string, string, string, string>();
        foreach (bool tdx in new[] { false, true })
        {
            foreach (string s in new[] { TcbStatus.UpToDate, TcbStatus.SWHardeningNeeded, TcbStatus.ConfigurationNeeded, TcbStatus.ConfigurationAndSWHardeningNeeded, TcbStatus.OutOfDate, TcbStatus.OutOfDateConfigurationNeeded })
            {
                data.Add(tdx, s, TcbStatus.UpToDate, TcbStatus.UpToDate, s);
            }

            // The QE's (and the TDX module's) status converges with the platform's as Intel's library does.
            data.Add(tdx, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.UpToDate, TcbStatus.OutOfDate);
            data.Add(tdx, TcbStatus.SWHardeningNeeded, TcbStatus.OutOfDate, TcbStatus.UpToDate, TcbStatus.OutOfDate);
            data.Add(tdx, TcbStatus.ConfigurationNeeded, TcbStatus.OutOfDate, TcbStatus.UpToDate, TcbStatus.OutOfDateConfigurationNeeded);
            data.Add(tdx, TcbStatus.ConfigurationAndSWHardeningNeeded, TcbStatus.OutOfDate, TcbStatus.UpToDate, TcbStatus.OutOfDateConfigurationNeeded);
        }

        data.Add(true, TcbStatus.UpToDate, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDate);
        data.Add(true, TcbStatus.ConfigurationNeeded, TcbStatus.UpToDate, TcbStatus.OutOfDate, TcbStatus.OutOfDateConfigurationNeeded);
        return data;
    }

    [Theory]
    [MemberData(nameof(Statuses))]
    public void Tcb_status_is_reported_and_combined(bool tdx, string platform, string qe, string module, string expected)
    {
        HardwareVerificationReport report = Verify(tdx, new TestQuoteOptions { Tdx = tdx },
            new TestCollateralOptions { PlatformStatus = platform, QeStatus = qe, ModuleStatus = module });

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal(expected, report.TcbStatus);
        Assert.Equal(platform == TcbStatus.UpToDate ? string.Empty : "INTEL-SA-00001", report.Claims["advisory_ids"]);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Older_qe_falls_to_its_out_of_date_level_with_its_advisory(bool tdx)
    {
        HardwareVerificationReport report = Verify(tdx, new TestQuoteOptions { Tdx = tdx, QeIsvSvn = 5 }, new TestCollateralOptions());

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal(TcbStatus.OutOfDate, report.TcbStatus);
        Assert.Equal("INTEL-SA-00003", report.Claims["advisory_ids"]);
    }

    public static TheoryData<bool, string, string> Rejections()
    {
        var data = new TheoryData<bool, string, string>();
        foreach (bool tdx in new[] { false, true })
        {
            data.Add(tdx, "revoked_pck", VerificationCodes.CertificateRevoked);
            data.Add(tdx, "revoked_intermediate", VerificationCodes.CertificateRevoked);
            data.Add(tdx, "revoked_tcb_signer", VerificationCodes.CertificateRevoked);
            data.Add(tdx, "tcb_level_revoked", VerificationCodes.TcbRevoked);
            data.Add(tdx, "qe_level_revoked", VerificationCodes.TcbRevoked);
            data.Add(tdx, "no_crls", VerificationCodes.CrlInvalid);
            data.Add(tdx, "pck_below_every_level", VerificationCodes.TcbLevelNotFound);
            data.Add(tdx, "qe_below_every_level", VerificationCodes.TcbLevelNotFound);
            data.Add(tdx, "fmspc_mismatch", VerificationCodes.CollateralMismatch);
            data.Add(tdx, "qe_identity_of_other_kind", VerificationCodes.CollateralMismatch);
            data.Add(tdx, "tcb_info_of_other_kind", VerificationCodes.CollateralMismatch);
            data.Add(tdx, "qe_mrsigner_mismatch", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(tdx, "sgx_components_truncated", VerificationCodes.CollateralInvalid);
            data.Add(tdx, "sgx_components_extended", VerificationCodes.CollateralInvalid);
            data.Add(tdx, "genuine_intel_anchor", VerificationCodes.UntrustedRoot);
            data.Add(tdx, "intermediate_swapped", VerificationCodes.ChainInvalid);
            data.Add(tdx, "chain_to_other_test_anchor", VerificationCodes.UntrustedRoot);
            data.Add(tdx, "tcb_signer_swapped", VerificationCodes.CollateralInvalid);
            data.Add(tdx, "pck_expired", VerificationCodes.CertificateExpired);
            data.Add(tdx, "root_crl_next_update", VerificationCodes.CrlInvalid);
            data.Add(tdx, "pck_crl_next_update", VerificationCodes.CrlInvalid);
            data.Add(tdx, "pck_swapped", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(tdx, "pck_not_yet_valid", VerificationCodes.CertificateExpired);
            data.Add(tdx, "intermediate_expired", VerificationCodes.CertificateExpired);
            data.Add(tdx, "root_not_yet_valid", VerificationCodes.CertificateExpired);
            data.Add(tdx, "tcb_signer_not_yet_valid", VerificationCodes.CertificateExpired);
            data.Add(tdx, "tcb_info_not_yet_issued", VerificationCodes.CollateralExpired);
            data.Add(tdx, "tcb_info_next_update", VerificationCodes.CollateralExpired);
            data.Add(tdx, "qe_identity_not_yet_issued", VerificationCodes.CollateralExpired);
            data.Add(tdx, "qe_identity_next_update", VerificationCodes.CollateralExpired);
            data.Add(tdx, "root_crl_this_update", VerificationCodes.CrlInvalid);
            data.Add(tdx, "pck_crl_this_update", VerificationCodes.CrlInvalid);
        }

        data.Add(true, "tdx_components_truncated", VerificationCodes.CollateralInvalid);
        data.Add(true, "tdx_module_unknown_major", VerificationCodes.TcbLevelNotFound);
        data.Add(true, "tdx_module_svn_below_every_level", VerificationCodes.TcbLevelNotFound);
        data.Add(true, "tdx_components_below_every_level", VerificationCodes.TcbLevelNotFound);
        return data;
    }

    [Theory]
    [MemberData(nameof(Rejections))]
    public void Test_pki_case_is_rejected_with_its_code(bool tdx, string change, string code)
    {
        var q = new TestQuoteOptions { Tdx = tdx };
        var c = new TestCollateralOptions();
        DateTimeOffset at = DcapTestPki.At;
        IHardwareVerifier verifier = _pki.Verifier(tdx);
        switch (change)
        {
            case "revoked_pck": c = c with { RevokePck = true }; break;
            case "revoked_intermediate": c = c with { RevokeCa = true }; break;
            case "revoked_tcb_signer": c = c with { RevokeTcbSigner = true }; break;
            case "tcb_level_revoked": c = c with { PlatformStatus = TcbStatus.Revoked }; break;
            case "qe_level_revoked": c = c with { QeStatus = TcbStatus.Revoked }; break;
            case "no_crls": c = c with { OmitCrls = true }; break;
            case "pck_below_every_level": c = c with { LevelSgxComponents = [.. DcapTestPki.PckComps.Select(x => x + 2)] }; break;
            case "qe_below_every_level": q = q with { QeIsvSvn = 2 }; break;
            case "fmspc_mismatch": c = c with { Fmspc = "00906ea10000" }; break;
            case "qe_identity_of_other_kind": c = c with { QeId = tdx ? "QE" : "TD_QE" }; break;
            case "tcb_info_of_other_kind": c = c with { TcbId = tdx ? "SGX" : "TDX" }; break;
            case "qe_mrsigner_mismatch": q = q with { QeMrSigner = new byte[32] }; break;
            case "sgx_components_truncated": c = c with { SgxComponentCount = 15 }; break;
            case "sgx_components_extended": c = c with { LevelSgxComponents = [.. DcapTestPki.PckComps, 0], SgxComponentCount = 17 }; break;
            case "tdx_components_truncated": c = c with { TdxComponentCount = 15 }; break;
            case "tdx_module_unknown_major": q = q with { TeeTcbSvn = [3, 5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }; break;
            case "tdx_module_svn_below_every_level": q = q with { TeeTcbSvn = [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }; break;
            case "tdx_components_below_every_level": q = q with { TeeTcbSvn = [3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }; break;
            case "genuine_intel_anchor": verifier = tdx ? new TdxVerifier() : new SgxVerifier(); break;
            case "pck_expired": at = DcapTestPki.Year(2038).AddSeconds(1); break;
            case "root_crl_next_update": at = DcapTestPki.RootCrlNext.AddSeconds(1); break;
            case "pck_crl_next_update": at = DcapTestPki.PckCrlNext.AddSeconds(1); break;
            case "pck_not_yet_valid": at = DcapTestPki.Year(2022).AddSeconds(-1); break;
            case "intermediate_expired": at = DcapTestPki.Year(2039).AddSeconds(1); break;
            case "root_not_yet_valid": at = DcapTestPki.Year(2020).AddSeconds(-1); break;
            case "tcb_signer_not_yet_valid": at = DcapTestPki.Year(2023).AddSeconds(-1); break;
            case "tcb_info_not_yet_issued": at = DcapTestPki.TcbIssue.AddSeconds(-1); break;
            case "tcb_info_next_update": at = DcapTestPki.TcbNext.AddSeconds(1); break;
            case "qe_identity_not_yet_issued": at = DcapTestPki.QeIssue.AddSeconds(-1); break;
            case "qe_identity_next_update": at = DcapTestPki.QeNext.AddSeconds(1); break;
            case "root_crl_this_update": at = DcapTestPki.RootCrlThis.AddSeconds(-1); break;
            case "pck_crl_this_update": at = DcapTestPki.PckCrlThis.AddSeconds(-1); break;
            case "pck_swapped":
                {
                    // Another PCK of the same CA name and shape: its key did not sign the QE report.
                    using var other = new DcapTestPki();
                    byte[] quote = _pki.Quote(q with { Chain = DcapTestPki.Pem(other.Pck) + DcapTestPki.Pem(_pki.Ca) + DcapTestPki.Pem(_pki.Root) });
                    DcapVectorMutationTests.AssertRejected(verifier.Verify(quote, _pki.Collateral(tdx, c), at), code);
                    return;
                }

            case "intermediate_swapped":
                {
                    // Same name, other key: the PCK's signature does not verify with the only intermediate offered.
                    using var impostor = new DcapTestPki(caName: "CN=Test SGX PCK Platform CA, O=Enclave Tests");
                    byte[] quote = _pki.Quote(q with { Chain = DcapTestPki.Pem(_pki.Pck) + DcapTestPki.Pem(impostor.Ca) });
                    EndorsementSet e = Edit(tdx, c, j => j.Remove("pck_crl_issuer_chain"));
                    DcapVectorMutationTests.AssertRejected(verifier.Verify(quote, e, at), code);
                    return;
                }

            case "chain_to_other_test_anchor":
                {
                    using var other = new DcapTestPki();
                    DcapVectorMutationTests.AssertRejected(
                        other.Verifier(tdx).Verify(_pki.Quote(q with { IncludeRootInChain = false }), _pki.Collateral(tdx, c), at), code);
                    return;
                }

            case "tcb_signer_swapped":
                {
                    using var other = new DcapTestPki();
                    EndorsementSet e = Edit(tdx, c, j =>
                    {
                        j["tcb_info_issuer_chain"] = DcapTestPki.Pem(other.TcbSigner) + DcapTestPki.Pem(_pki.Root);
                        j["qe_identity_issuer_chain"] = DcapTestPki.Pem(other.TcbSigner) + DcapTestPki.Pem(_pki.Root);
                    });
                    DcapVectorMutationTests.AssertRejected(verifier.Verify(_pki.Quote(q), e, at), code);
                    return;
                }

            default: throw new ArgumentOutOfRangeException(nameof(change));
        }

        DcapVectorMutationTests.AssertRejected(verifier.Verify(_pki.Quote(q), _pki.Collateral(tdx, c), at), code);
    }

    [Fact]
    public void Raw_pcs_file_form_is_read_like_the_collateral_json()
    {
        // {"tcbInfo": {...}, "signature": "..."} with the body kept byte-for-byte (spaces included), PEM chain and DER CRLs.
        var c = new TestCollateralOptions();
        System.Text.Json.Nodes.JsonObject json = System.Text.Json.Nodes.JsonNode.Parse(_pki.CollateralJson(false, c))!.AsObject();
        string tcb = json["tcb_info"]!.GetValue<string>();
        string qe = json["qe_identity"]!.GetValue<string>();
        byte[] File(string key, string body, string sig) => System.Text.Encoding.UTF8.GetBytes("{\"" + key + "\": " + body + ",\n \"signature\":\"" + sig + "\"}");
        EndorsementSet e = EndorsementSet.FromFiles([
            ("tcb_info.json", File("tcbInfo", tcb, json["tcb_info_signature"]!.GetValue<string>())),
            ("qe_identity.json", File("enclaveIdentity", qe, json["qe_identity_signature"]!.GetValue<string>())),
            ("tcb_info_issuer_chain.pem", System.Text.Encoding.ASCII.GetBytes(DcapTestPki.Pem(_pki.TcbSigner) + DcapTestPki.Pem(_pki.Root))),
            ("root_ca_crl.der", _pki.RootCrl()),
            ("pck_crl.der", _pki.PckCrl()),
        ]);

        HardwareVerificationReport report = _pki.Verifier(false).Verify(_pki.Quote(new TestQuoteOptions()), e, DcapTestPki.At);

        Assert.True(report.Verified, string.Join("; ", report.Errors));
    }

    private EndorsementSet Edit(bool tdx, TestCollateralOptions c, Action<System.Text.Json.Nodes.JsonObject> edit)
    {
        System.Text.Json.Nodes.JsonObject json = System.Text.Json.Nodes.JsonNode.Parse(_pki.CollateralJson(tdx, c))!.AsObject();
        edit(json);
        return EndorsementSet.FromFiles([("collateral.json", System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()))]);
    }

    private HardwareVerificationReport Verify(bool tdx, TestQuoteOptions q, TestCollateralOptions c) =>
        _pki.Verifier(tdx).Verify(_pki.Quote(q), _pki.Collateral(tdx, c), DcapTestPki.At);
}
