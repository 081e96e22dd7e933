using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Enclave.AttestationVerifier.Evidence.Dcap;

namespace Enclave.AttestationVerifier.Verification.Dcap;

/// <summary>Flattened claims and the normalised identity of a DCAP quote.</summary>
internal static class DcapClaims
{
    public static void Add(Dictionary<string, string> claims, DcapQuote quote, PckExtensions? pck, IReadOnlyList<X509Certificate2>? pckChain)
    {
        claims["header.version"] = Num(quote.Version);
        claims["header.attestation_key_type"] = Num(quote.AttestationKeyType);
        claims["header.tee_type"] = Num(quote.TeeType);
        claims["header.qe_svn"] = Num(quote.QeSvn);
        claims["header.pce_svn"] = Num(quote.PceSvn);
        claims["header.qe_vendor_id"] = Hex(quote.QeVendorId);
        claims["header.user_data"] = Hex(quote.UserData);
        claims["body_type"] = quote.BodyType switch
        {
            DcapBodyType.Sgx => "SGX",
            DcapBodyType.Td10 => "TD10",
            _ => "TD15",
        };
        claims["certification_data_type"] = Num(quote.CertificationDataType);
        claims["outer_certification_data_type"] = Num(quote.OuterCertificationDataType);
        claims["trailing_bytes_after_signature_data"] = Num(quote.TrailingBytes);
        claims["signature"] = Hex(quote.Signature);
        claims["attestation_key"] = Hex(quote.AttestationKey);
        claims["qe_auth_data"] = Hex(quote.QeAuthData);
        AddReport(claims, "qe_report", quote.QeReport);

        if (quote.SgxBody is { } sgx)
        {
            AddReport(claims, "body", sgx);
            AddReport(claims, "report", sgx);
            int nul = Array.IndexOf(sgx.ReportData, (byte)0);
            byte[] prefix = sgx.ReportData[..(nul < 0 ? sgx.ReportData.Length : nul)];
            if (prefix.All(b => b is >= 0x20 and < 0x7f))
            {
                claims["report.report_data_ascii_prefix"] = Encoding.ASCII.GetString(prefix);
            }
        }

        if (quote.TdBody is { } td)
        {
            claims["body.tee_tcb_svn"] = Hex(td.TeeTcbSvn);
            claims["body.mr_seam"] = Hex(td.MrSeam);
            claims["body.mr_signer_seam"] = Hex(td.MrSignerSeam);
            claims["body.seam_attributes"] = Hex(td.SeamAttributes);
            claims["body.td_attributes"] = Hex(td.TdAttributes);
            claims["body.xfam"] = Hex(td.Xfam);
            claims["body.mr_td"] = Hex(td.MrTd);
            claims["body.mr_config_id"] = Hex(td.MrConfigId);
            claims["body.mr_owner"] = Hex(td.MrOwner);
            claims["body.mr_owner_config"] = Hex(td.MrOwnerConfig);
            for (int i = 0; i < 4; i++)
            {
                claims[$"body.rtmr{i}"] = Hex(td.Rtmrs[i]);
            }

            claims["body.report_data"] = Hex(td.ReportData);
            if (td.TeeTcbSvn2 is not null)
            {
                claims["body.tee_tcb_svn2"] = Hex(td.TeeTcbSvn2);
                claims["body.mr_servicetd"] = Hex(td.MrServiceTd!);
            }
        }

        if (pck is not null)
        {
            claims["pck.ppid"] = Hex(pck.Ppid);
            claims["pck.fmspc"] = Hex(pck.Fmspc);
            claims["pck_fmspc"] = Hex(pck.Fmspc);
            claims["pck.pceid"] = Hex(pck.PceId);
            claims["pck.pcesvn"] = Num(pck.PceSvn);
            claims["pck.cpusvn"] = Hex(pck.CpuSvn);
            claims["pck.sgx_type"] = Num(pck.SgxType);
            for (int i = 0; i < pck.CompSvns.Length; i++)
            {
                claims[$"pck.comp_svn.{i}"] = Num(pck.CompSvns[i]);
            }
        }

        if (pckChain is { Count: > 1 })
        {
            claims["pck.issuer"] = pckChain[0].Issuer;
            claims["pck.ca"] = pckChain[1].Subject.Contains("Platform", StringComparison.Ordinal) ? "platform" : "processor";
            claims["pck_ca"] = claims["pck.ca"];
        }
    }

    public static HardwareIdentity Identity(DcapQuote quote, PckExtensions? pck, string? tcbStatus)
    {
        string platform = $"{(quote.IsTdx ? "tdx" : "sgx")}:{(pck is null ? string.Empty : Hex(pck.Fmspc))}:{(pck is null ? string.Empty : Hex(pck.Ppid))}";
        Dictionary<string, object> token = new(StringComparer.Ordinal);
        if (quote.SgxBody is { } sgx)
        {
            token["x-ms-attestation-type"] = "sgx";
            token["x-ms-sgx-mrenclave"] = Hex(sgx.MrEnclave);
            token["x-ms-sgx-mrsigner"] = Hex(sgx.MrSigner);
            token["x-ms-sgx-is-debuggable"] = sgx.Debug;
            token["x-ms-sgx-product-id"] = (long)sgx.IsvProdId;
            token["x-ms-sgx-svn"] = (long)sgx.IsvSvn;
            token["x-ms-sgx-report-data"] = Hex(sgx.ReportData);
            token["x-ms-sgx-config-id"] = Hex(sgx.ConfigId);
            AddTcb(token, tcbStatus);
            return new HardwareIdentity(
                sgx.Debug,
                new Dictionary<string, string>(StringComparer.Ordinal) { ["mr_enclave"] = Hex(sgx.MrEnclave) },
                Hex(sgx.MrSigner),
                new Dictionary<string, long>(StringComparer.Ordinal)
                {
                    ["isv_svn"] = sgx.IsvSvn,
                    ["isv_prod_id"] = sgx.IsvProdId,
                    ["config_svn"] = sgx.ConfigSvn,
                    ["qe_svn"] = quote.QeSvn,
                    ["pce_svn"] = pck?.PceSvn ?? quote.PceSvn,
                },
                sgx.ReportData,
                platform,
                token);
        }

        TdReportBody td = quote.TdBody!;
        token["x-ms-attestation-type"] = "tdxvm";
        token["tdx_mrtd"] = Hex(td.MrTd);
        for (int i = 0; i < 4; i++)
        {
            token[$"tdx_rtmr{i}"] = Hex(td.Rtmrs[i]);
        }

        token["tdx_mrconfigid"] = Hex(td.MrConfigId);
        token["tdx_mrowner"] = Hex(td.MrOwner);
        token["tdx_mrownerconfig"] = Hex(td.MrOwnerConfig);
        token["tdx_mrseam"] = Hex(td.MrSeam);
        token["tdx_mrsignerseam"] = Hex(td.MrSignerSeam);
        token["tdx_seam_attributes"] = Hex(td.SeamAttributes);
        token["tdx_td_attributes"] = Hex(td.TdAttributes);
        token["tdx_td_attributes_debug"] = td.Debug;
        token["tdx_td_attributes_septve_disable"] = (td.TdAttributes[3] & 0x10) != 0;
        token["tdx_td_attributes_protection_keys"] = (td.TdAttributes[3] & 0x40) != 0;
        token["tdx_td_attributes_key_locker"] = (td.TdAttributes[3] & 0x80) != 0;
        token["tdx_td_attributes_perfmon"] = (td.TdAttributes[7] & 0x80) != 0;
        token["tdx_xfam"] = Hex(td.Xfam);
        token["tdx_tee_tcb_svn"] = Hex(td.TeeTcbSvn);
        token["tdx_report_data"] = Hex(td.ReportData);
        if (td.MrServiceTd is not null)
        {
            token["tdx_mrservicetd"] = Hex(td.MrServiceTd);
            token["tdx_tee_tcb_svn2"] = Hex(td.TeeTcbSvn2!);
        }

        AddTcb(token, tcbStatus);
        Dictionary<string, string> measurements = new(StringComparer.Ordinal)
        {
            ["mr_td"] = Hex(td.MrTd),
            ["mr_config_id"] = Hex(td.MrConfigId),
            ["mr_owner"] = Hex(td.MrOwner),
            ["mr_owner_config"] = Hex(td.MrOwnerConfig),
            ["mr_seam"] = Hex(td.MrSeam),
        };
        for (int i = 0; i < 4; i++)
        {
            measurements[$"rtmr{i}"] = Hex(td.Rtmrs[i]);
        }

        return new HardwareIdentity(
            td.Debug,
            measurements,
            null,
            new Dictionary<string, long>(StringComparer.Ordinal)
            {
                ["tdx_module_svn"] = td.TeeTcbSvn[0],
                ["tdx_module_major"] = td.TeeTcbSvn[1],
                ["qe_svn"] = quote.QeSvn,
                ["pce_svn"] = pck?.PceSvn ?? quote.PceSvn,
            },
            td.ReportData,
            platform,
            token);
    }

    private static void AddTcb(Dictionary<string, object> token, string? tcbStatus)
    {
        if (tcbStatus is not null)
        {
            token["x-ms-attestation-tcb-status"] = tcbStatus;
        }
    }

    private static void AddReport(Dictionary<string, string> claims, string prefix, SgxReportBody r)
    {
        claims[prefix + ".cpu_svn"] = Hex(r.CpuSvn);
        claims[prefix + ".misc_select"] = Num(r.MiscSelect);
        claims[prefix + ".isv_ext_prod_id"] = Hex(r.IsvExtProdId);
        claims[prefix + ".attributes"] = Hex(r.Attributes);
        claims[prefix + ".mr_enclave"] = Hex(r.MrEnclave);
        claims[prefix + ".mr_signer"] = Hex(r.MrSigner);
        claims[prefix + ".config_id"] = Hex(r.ConfigId);
        claims[prefix + ".isv_prod_id"] = Num(r.IsvProdId);
        claims[prefix + ".isv_svn"] = Num(r.IsvSvn);
        claims[prefix + ".config_svn"] = Num(r.ConfigSvn);
        claims[prefix + ".isv_family_id"] = Hex(r.IsvFamilyId);
        claims[prefix + ".report_data"] = Hex(r.ReportData);
    }

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);
}
