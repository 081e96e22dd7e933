using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Dcap;

namespace Enclave.AttestationVerifier.Tests.Dcap;

/// <summary>Offsets of the fields of a real quote, found by walking its length fields.</summary>
internal sealed record QuoteLayout(int SignatureDataLength, int Signature, int AttestationKey, int OuterType, int OuterLength, int QeReport, int QeSignature, int AuthLength, int Auth, int CertType, int CertLength, int CertData, int End)
{
    public static QuoteLayout Of(byte[] q)
    {
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(q);
        bool tdx = BinaryPrimitives.ReadUInt32LittleEndian(q.AsSpan(4)) == 0x81;
        int bodyEnd = version == 5 ? 54 + (int)BinaryPrimitives.ReadUInt32LittleEndian(q.AsSpan(50)) : 48 + (tdx ? 584 : 384);
        int sig = bodyEnd + 4;
        int outerType = version == 3 ? -1 : sig + 128;
        int qe = version == 3 ? sig + 128 : sig + 134;
        int authLength = qe + 448;
        int auth = authLength + 2;
        int certType = auth + BinaryPrimitives.ReadUInt16LittleEndian(q.AsSpan(authLength));
        int certData = certType + 6;
        int end = certData + (int)BinaryPrimitives.ReadUInt32LittleEndian(q.AsSpan(certType + 2));
        return new QuoteLayout(bodyEnd, sig, sig + 64, outerType, outerType + 2, qe, qe + 384, authLength, auth, certType, certType + 2, certData, end);
    }

    /// <summary>Offset of a base64 character in the signature of the n-th PEM certificate of the quote's chain.</summary>
    public static int PemSignatureChar(byte[] q, int n)
    {
        int at = -1;
        for (int i = 0; i <= n; i++)
        {
            at = q.AsSpan(at + 1).IndexOf("-----END CERTIFICATE-----"u8) + at + 1;
        }

        return at - 12;
    }
}

/// <summary>Negative cases built from the real Intel vectors by changing one thing.</summary>
public sealed class DcapVectorMutationTests
{
    private const string Sgx = "dcap-qvl-sgx-v3-processor-ca-2025";
    private const string Tdx = "dcap-qvl-tdx-v4-uptodate-2025";

    public static TheoryData<string, string, string> QuoteFlips()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string kind in new[] { "sgx", "tdx" })
        {
            data.Add(kind, "header.qe_svn", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "header.pce_svn", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "header.qe_vendor_id", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "header.user_data", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "body.first", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "body.measurement", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "body.attributes", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "body.report_data", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "signature.r", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "signature.s", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "attestation_key", VerificationCodes.EvidenceSignatureInvalid);
            data.Add(kind, "attestation_key.binding", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(kind, "qe_report.mr_signer", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(kind, "qe_report.isv_svn", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(kind, "qe_report.report_data", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(kind, "qe_report_signature.r", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(kind, "qe_report_signature.s", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(kind, "qe_auth_data", VerificationCodes.QuotingEnclaveInvalid);
            data.Add(kind, "pck_chain.0", VerificationCodes.ChainInvalid);
            data.Add(kind, "pck_chain.1", VerificationCodes.ChainInvalid);
            data.Add(kind, "pck_chain.2", VerificationCodes.UntrustedRoot);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(QuoteFlips))]
    public void Flipped_byte_in_the_quote_is_rejected(string kind, string region, string code)
    {
        DcapVector vector = Vector(kind);
        byte[] q = (byte[])vector.Quote.Clone();
        QuoteLayout l = QuoteLayout.Of(q);
        bool tdx = kind == "tdx";
        int offset = region switch
        {
            "header.qe_svn" => 8,
            "header.pce_svn" => 10,
            "header.qe_vendor_id" => 20,
            "header.user_data" => 30,
            "body.first" => 48,
            "body.measurement" => tdx ? 48 + 140 : 48 + 70,
            "body.attributes" => tdx ? 48 + 121 : 48 + 50,
            "body.report_data" => l.SignatureDataLength - 5,
            "signature.r" => l.Signature + 3,
            "signature.s" => l.Signature + 40,
            "attestation_key" or "attestation_key.binding" => l.AttestationKey + 10,
            "qe_report.mr_signer" => l.QeReport + 130,
            "qe_report.isv_svn" => l.QeReport + 258,
            "qe_report.report_data" => l.QeReport + 330,
            "qe_report_signature.r" => l.QeSignature + 5,
            "qe_report_signature.s" => l.QeSignature + 50,
            "qe_auth_data" => l.Auth + 1,
            "pck_chain.0" => QuoteLayout.PemSignatureChar(q, 0),
            "pck_chain.1" => QuoteLayout.PemSignatureChar(q, 1),
            "pck_chain.2" => QuoteLayout.PemSignatureChar(q, 2),
            _ => throw new ArgumentOutOfRangeException(nameof(region)),
        };
        q[offset] = region.StartsWith("pck_chain", StringComparison.Ordinal) ? (byte)(q[offset] == (byte)'A' ? 'B' : 'A') : (byte)(q[offset] ^ 0x01);

        AssertRejected(Verify(kind, q, vector.Endorsements(), vector.At), code);
    }

    public static TheoryData<string, string, string> CollateralFlips()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string kind in new[] { "sgx", "tdx" })
        {
            data.Add(kind, "tcb_info.body", VerificationCodes.CollateralInvalid);
            data.Add(kind, "tcb_info.status", VerificationCodes.CollateralInvalid);
            data.Add(kind, "tcb_info_signature.r", VerificationCodes.CollateralInvalid);
            data.Add(kind, "tcb_info_signature.s", VerificationCodes.CollateralInvalid);
            data.Add(kind, "qe_identity.body", VerificationCodes.CollateralInvalid);
            data.Add(kind, "qe_identity_signature.r", VerificationCodes.CollateralInvalid);
            data.Add(kind, "qe_identity_signature.s", VerificationCodes.CollateralInvalid);
            data.Add(kind, "root_ca_crl.signature", VerificationCodes.CrlInvalid);
            data.Add(kind, "root_ca_crl.body", VerificationCodes.CrlInvalid);
            data.Add(kind, "pck_crl.signature", VerificationCodes.CrlInvalid);
            data.Add(kind, "pck_crl.body", VerificationCodes.CrlInvalid);
            data.Add(kind, "pck_crl.missing", VerificationCodes.CrlInvalid);
            data.Add(kind, "root_ca_crl.missing", VerificationCodes.CrlInvalid);
            data.Add(kind, "tcb_info.missing", VerificationCodes.CollateralMissing);
            data.Add(kind, "qe_identity.missing", VerificationCodes.CollateralMissing);
            data.Add(kind, "tcb_info_issuer_chain.swapped", VerificationCodes.CollateralInvalid);
            data.Add(kind, "pck_crl.swapped", VerificationCodes.CrlInvalid);
            data.Add(kind, "root_ca_crl.swapped", VerificationCodes.CrlInvalid);
            data.Add(kind, "tcb_info.swapped", VerificationCodes.CollateralMismatch);
            data.Add(kind, "qe_identity.swapped", VerificationCodes.CollateralMismatch);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CollateralFlips))]
    public void Changed_collateral_is_rejected(string kind, string change, string code)
    {
        DcapVector vector = Vector(kind);
        DcapVector other = Vector(kind == "sgx" ? "tdx" : "sgx");
        JsonObject c = JsonNode.Parse(File.ReadAllText(Path.Combine(vector.Folder, "collateral.json")))!.AsObject();
        JsonObject o = JsonNode.Parse(File.ReadAllText(Path.Combine(other.Folder, "collateral.json")))!.AsObject();
        string Get(string k) => c[k]!.GetValue<string>();
        switch (change)
        {
            case "tcb_info.body":
                c["tcb_info"] = Get("tcb_info").Replace("\"tcbEvaluationDataNumber\":17", "\"tcbEvaluationDataNumber\":18", StringComparison.Ordinal);
                break;
            case "tcb_info.status":
                c["tcb_info"] = ReplaceFirst(Get("tcb_info"), "\"tcbStatus\":\"", "\"tcbStatus\":\"Revoked\",\"was\":\"");
                break;
            case "qe_identity.body":
                c["qe_identity"] = Get("qe_identity").Replace("\"isvsvn\":", "\"isvsvn\":1", StringComparison.Ordinal);
                break;
            case "tcb_info_signature.r" or "tcb_info_signature.s" or "qe_identity_signature.r" or "qe_identity_signature.s":
                string key = change[..change.IndexOf('.', StringComparison.Ordinal)];
                c[key] = FlipHex(Get(key), change.EndsWith(".r", StringComparison.Ordinal) ? 4 : 100);
                break;
            case "root_ca_crl.signature" or "pck_crl.signature":
                string crl = change[..change.IndexOf('.', StringComparison.Ordinal)];
                c[crl] = FlipHex(Get(crl), Get(crl).Length - 6);
                break;
            case "root_ca_crl.body" or "pck_crl.body":
                string crlBody = change[..change.IndexOf('.', StringComparison.Ordinal)];
                c[crlBody] = FlipHex(Get(crlBody), 200);
                break;
            case "pck_crl.missing" or "root_ca_crl.missing" or "tcb_info.missing" or "qe_identity.missing":
                c.Remove(change[..change.IndexOf('.', StringComparison.Ordinal)]);
                break;
            case "tcb_info_issuer_chain.swapped":
                c["tcb_info_issuer_chain"] = c["pck_crl_issuer_chain"]!.GetValue<string>();
                break;
            case "pck_crl.swapped":
                c["pck_crl"] = c["root_ca_crl"]!.GetValue<string>();
                break;
            case "root_ca_crl.swapped":
                c["root_ca_crl"] = c["pck_crl"]!.GetValue<string>();
                break;
            case "tcb_info.swapped" or "qe_identity.swapped":
                string doc = change[..change.IndexOf('.', StringComparison.Ordinal)];
                c[doc] = o[doc]!.GetValue<string>();
                c[doc + "_signature"] = o[doc + "_signature"]!.GetValue<string>();
                c[doc + "_issuer_chain"] = o[doc + "_issuer_chain"]!.GetValue<string>();
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(change));
        }

        EndorsementSet endorsements = EndorsementSet.FromFiles([("collateral.json", Encoding.UTF8.GetBytes(c.ToJsonString()))]);
        AssertRejected(Verify(kind, vector.Quote, endorsements, vector.At), code);
    }

    public static TheoryData<string, string, int, string> Instants()
    {
        var data = new TheoryData<string, string, int, string>();
        foreach (string kind in new[] { "sgx", "tdx" })
        {
            data.Add(kind, "tcb_info.issueDate", -1, VerificationCodes.CollateralExpired);
            data.Add(kind, "tcb_info.nextUpdate", 1, VerificationCodes.CollateralExpired);
            data.Add(kind, "qe_identity.issueDate", -1, VerificationCodes.CollateralExpired);
            data.Add(kind, "qe_identity.nextUpdate", 1, VerificationCodes.CollateralExpired);
            data.Add(kind, "pck_crl.thisUpdate", -1, VerificationCodes.CrlInvalid);
            data.Add(kind, "root_ca_crl.thisUpdate", -1, VerificationCodes.CrlInvalid);
            data.Add(kind, "pck.notBefore", -1, VerificationCodes.CertificateExpired);
            data.Add(kind, "pck.notAfter", 1, VerificationCodes.CertificateExpired);
            data.Add(kind, "pck_ca.notBefore", -1, VerificationCodes.CertificateExpired);
            data.Add(kind, "tcb_signer.notBefore", -1, VerificationCodes.CertificateExpired);
            data.Add(kind, "tcb_signer.notAfter", 1, VerificationCodes.CertificateExpired);
            data.Add(kind, "pck_crl.nextUpdate", 1, VerificationCodes.CrlInvalid);
            data.Add(kind, "root_ca_crl.nextUpdate", 1, VerificationCodes.CrlInvalid);
            data.Add(kind, "pck_ca.notAfter", 1, VerificationCodes.CertificateExpired);
            data.Add(kind, "root.notBefore", -1, VerificationCodes.CertificateExpired);
            data.Add(kind, "root.notAfter", 1, VerificationCodes.CertificateExpired);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Instants))]
    public void Instant_just_outside_a_validity_window_is_rejected(string kind, string boundary, int seconds, string code)
    {
        DcapVector vector = Vector(kind);
        JsonObject c = JsonNode.Parse(File.ReadAllText(Path.Combine(vector.Folder, "collateral.json")))!.AsObject();
        DateTimeOffset Field(string doc, string name) =>
            DateTimeOffset.Parse(JsonNode.Parse(c[doc]!.GetValue<string>())![name]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        var quoteCerts = Enclave.AttestationVerifier.Endorsements.Dcap.EndorsementCollateralSource.PemCertificates(Encoding.ASCII.GetString(vector.Quote.AsSpan(QuoteLayout.Of(vector.Quote).CertData)));
        var tcbSigner = Enclave.AttestationVerifier.Endorsements.Dcap.EndorsementCollateralSource.PemCertificates(c["tcb_info_issuer_chain"]!.GetValue<string>())[0];
        DateTimeOffset edge = boundary switch
        {
            "tcb_info.issueDate" => Field("tcb_info", "issueDate"),
            "tcb_info.nextUpdate" => Field("tcb_info", "nextUpdate"),
            "qe_identity.issueDate" => Field("qe_identity", "issueDate"),
            "qe_identity.nextUpdate" => Field("qe_identity", "nextUpdate"),
            "pck_crl.thisUpdate" => Enclave.AttestationVerifier.Endorsements.Dcap.DcapCrl.Parse(Convert.FromHexString(c["pck_crl"]!.GetValue<string>())).ThisUpdate,
            "root_ca_crl.thisUpdate" => Enclave.AttestationVerifier.Endorsements.Dcap.DcapCrl.Parse(Convert.FromHexString(c["root_ca_crl"]!.GetValue<string>())).ThisUpdate,
            "pck_crl.nextUpdate" => Enclave.AttestationVerifier.Endorsements.Dcap.DcapCrl.Parse(Convert.FromHexString(c["pck_crl"]!.GetValue<string>())).NextUpdate!.Value,
            "root_ca_crl.nextUpdate" => Enclave.AttestationVerifier.Endorsements.Dcap.DcapCrl.Parse(Convert.FromHexString(c["root_ca_crl"]!.GetValue<string>())).NextUpdate!.Value,
            "pck_ca.notAfter" => quoteCerts[1].NotAfter.ToUniversalTime(),
            "root.notBefore" => quoteCerts[2].NotBefore.ToUniversalTime(),
            "root.notAfter" => quoteCerts[2].NotAfter.ToUniversalTime(),
            "pck.notBefore" => quoteCerts[0].NotBefore.ToUniversalTime(),
            "pck.notAfter" => quoteCerts[0].NotAfter.ToUniversalTime(),
            "pck_ca.notBefore" => quoteCerts[1].NotBefore.ToUniversalTime(),
            "tcb_signer.notBefore" => tcbSigner.NotBefore.ToUniversalTime(),
            "tcb_signer.notAfter" => tcbSigner.NotAfter.ToUniversalTime(),
            _ => throw new ArgumentOutOfRangeException(nameof(boundary)),
        };
        DateTimeOffset at = new DateTimeOffset(edge.UtcDateTime, TimeSpan.Zero).AddSeconds(seconds);

        AssertRejected(Verify(kind, vector.Quote, vector.Endorsements(), at), code);
    }

    [Theory]
    [InlineData("sgx", 0)]
    [InlineData("sgx", 1)]
    [InlineData("tdx", 0)]
    [InlineData("tdx", 1)]
    public void The_window_edges_themselves_are_inside(string kind, int which)
    {
        DcapVector vector = Vector(kind);
        JsonElement window = vector.Expected.GetProperty("validity_window");
        DateTimeOffset at = DateTimeOffset.Parse(window.GetProperty(which == 0 ? "not_before" : "not_after").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

        HardwareVerificationReport report = Verify(kind, vector.Quote, vector.Endorsements(), at);

        Assert.True(report.Verified, string.Join("; ", report.Errors));
    }

    public static TheoryData<string, string> Truncations()
    {
        var data = new TheoryData<string, string>();
        foreach (string kind in new[] { "sgx", "tdx", "tdx5" })
        {
            foreach (string at in new[] { "empty", "header.mid", "header.end", "body.mid", "signature_data_len.mid", "signature_data_len.end", "signature.mid", "attestation_key.mid", "qe_report.mid", "qe_report_signature.mid", "qe_auth_data_len.mid", "qe_auth_data.mid", "certification_data_type.mid", "certification_data_len.mid", "certification_data.mid" })
            {
                data.Add(kind, at);
            }

            if (kind != "sgx")
            {
                data.Add(kind, "outer_certification_data_type.mid");
                data.Add(kind, "outer_certification_data_len.mid");
            }
        }

        data.Add("tdx5", "body_descriptor.mid");
        return data;
    }

    [Theory]
    [MemberData(nameof(Truncations))]
    public void Truncated_quote_is_malformed(string kind, string at)
    {
        (DcapVector vector, byte[] q) = QuoteOf(kind);
        QuoteLayout l = QuoteLayout.Of(q);
        int length = at switch
        {
            "empty" => 0,
            "header.mid" => 20,
            "header.end" => 48,
            "body_descriptor.mid" => 51,
            "body.mid" => 200,
            "signature_data_len.mid" => l.SignatureDataLength + 2,
            "signature_data_len.end" => l.SignatureDataLength + 4,
            "signature.mid" => l.Signature + 32,
            "attestation_key.mid" => l.AttestationKey + 32,
            "outer_certification_data_type.mid" => l.OuterType + 1,
            "outer_certification_data_len.mid" => l.OuterLength + 2,
            "qe_report.mid" => l.QeReport + 100,
            "qe_report_signature.mid" => l.QeSignature + 10,
            "qe_auth_data_len.mid" => l.AuthLength + 1,
            "qe_auth_data.mid" => l.Auth + 5,
            "certification_data_type.mid" => l.CertType + 1,
            "certification_data_len.mid" => l.CertLength + 2,
            "certification_data.mid" => l.CertData + 500,
            _ => throw new ArgumentOutOfRangeException(nameof(at)),
        };

        AssertRejected(Verify(vector.Kind, q[..length], vector.Endorsements(), vector.At), VerificationCodes.Malformed);
    }

    public static TheoryData<string, string, string> LengthFields()
    {
        var data = new TheoryData<string, string, string>();
        foreach (string kind in new[] { "sgx", "tdx", "tdx5" })
        {
            data.Add(kind, "signature_data_len.max", VerificationCodes.Malformed);
            data.Add(kind, "signature_data_len.plus_one", VerificationCodes.Malformed);
            data.Add(kind, "signature_data_len.minus_one", VerificationCodes.Malformed);
            data.Add(kind, "qe_auth_data_len.max", VerificationCodes.Malformed);
            data.Add(kind, "qe_auth_data_len.beyond", VerificationCodes.Malformed);
            data.Add(kind, "certification_data_len.max", VerificationCodes.Malformed);
            data.Add(kind, "certification_data_len.minus_one", VerificationCodes.Malformed);
            data.Add(kind, "certification_data_type.unknown", VerificationCodes.Unsupported);
            data.Add(kind, "version.unknown", VerificationCodes.Unsupported);
            data.Add(kind, "attestation_key_type.unknown", VerificationCodes.Unsupported);
            data.Add(kind, "tee_type.unknown", VerificationCodes.Unsupported);
            if (kind != "sgx")
            {
                data.Add(kind, "outer_certification_data_len.max", VerificationCodes.Malformed);
                data.Add(kind, "outer_certification_data_len.minus_one", VerificationCodes.Malformed);
                data.Add(kind, "outer_certification_data_type.5", VerificationCodes.Unsupported);
                data.Add(kind, "version.3", VerificationCodes.Unsupported);
            }
        }

        data.Add("tdx5", "body_descriptor.size", VerificationCodes.Malformed);
        data.Add("tdx5", "body_descriptor.type_sgx", VerificationCodes.Malformed);
        data.Add("tdx5", "body_descriptor.type_unknown", VerificationCodes.Unsupported);
        return data;
    }

    [Theory]
    [MemberData(nameof(LengthFields))]
    public void Bad_length_or_type_field_is_rejected(string kind, string change, string code)
    {
        (DcapVector vector, byte[] q) = QuoteOf(kind);
        QuoteLayout l = QuoteLayout.Of(q);
        void U32(int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(q.AsSpan(at), v);
        void U16(int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(q.AsSpan(at), v);
        uint Read32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(q.AsSpan(at));
        switch (change)
        {
            case "signature_data_len.max": U32(l.SignatureDataLength, uint.MaxValue); break;
            case "signature_data_len.plus_one": U32(l.SignatureDataLength, Read32(l.SignatureDataLength) + 1); break;
            case "signature_data_len.minus_one": U32(l.SignatureDataLength, Read32(l.SignatureDataLength) - 1); break;
            case "qe_auth_data_len.max": U16(l.AuthLength, ushort.MaxValue); break;
            case "qe_auth_data_len.beyond": U16(l.AuthLength, (ushort)(l.End - l.Auth + 1)); break;
            case "certification_data_len.max": U32(l.CertLength, uint.MaxValue); break;
            case "certification_data_len.minus_one": U32(l.CertLength, Read32(l.CertLength) - 1); break;
            case "certification_data_type.unknown": U16(l.CertType, 9); break;
            case "version.unknown": U16(0, 6); break;
            case "version.3": U16(0, 3); break;
            case "attestation_key_type.unknown": U16(2, 3); break;
            case "tee_type.unknown": U32(4, 0x80); break;
            case "outer_certification_data_len.max": U32(l.OuterLength, uint.MaxValue); break;
            case "outer_certification_data_len.minus_one": U32(l.OuterLength, Read32(l.OuterLength) - 1); break;
            case "outer_certification_data_type.5": U16(l.OuterType, 5); break;
            case "body_descriptor.size": U32(50, 584); break;
            case "body_descriptor.type_sgx": U16(48, 1); break;
            case "body_descriptor.type_unknown": U16(48, 4); break;
            default: throw new ArgumentOutOfRangeException(nameof(change));
        }

        AssertRejected(Verify(vector.Kind, q, vector.Endorsements(), vector.At), code);
    }

    [Theory]
    [InlineData("sgx")]
    [InlineData("tdx")]
    public void Setting_the_debug_bit_of_a_genuine_quote_breaks_its_signature(string kind)
    {
        DcapVector vector = Vector(kind);
        byte[] q = (byte[])vector.Quote.Clone();
        if (kind == "sgx")
        {
            q[48 + 48] |= 0x02;
        }
        else
        {
            q[48 + 120] |= 0x01;
        }

        HardwareVerificationReport report = Verify(kind, q, vector.Endorsements(), vector.At);

        AssertRejected(report, VerificationCodes.EvidenceSignatureInvalid);
        Assert.True(report.Identity!.Debug);
    }

    [Fact]
    public void Trailing_bytes_after_the_signature_data_are_tolerated_and_counted()
    {
        DcapVector vector = Vector("sgx");
        byte[] q = [.. vector.Quote, 0, 0, 0, 0, 0];

        HardwareVerificationReport report = Verify("sgx", q, vector.Endorsements(), vector.At);

        Assert.True(report.Verified, string.Join("; ", report.Errors));
        Assert.Equal("5", report.Claims["trailing_bytes_after_signature_data"]);
    }

    [Theory]
    [InlineData("sgx")]
    [InlineData("tdx")]
    public void Quote_of_the_other_kind_is_unsupported(string verifierKind)
    {
        DcapVector vector = Vector(verifierKind == "sgx" ? "tdx" : "sgx");

        HardwareVerificationReport report = Verify(verifierKind, vector.Quote, vector.Endorsements(), vector.At);

        AssertRejected(report, VerificationCodes.Unsupported);
        Assert.False((verifierKind == "sgx" ? (IHardwareVerifier)new SgxVerifier() : new TdxVerifier()).Recognizes(vector.Quote));
    }

    [Theory]
    [InlineData("sgx", "tdx", VerificationCodes.CollateralMismatch)]
    [InlineData("tdx", "sgx", VerificationCodes.CollateralMismatch)]
    public void Collateral_of_the_other_kind_is_a_mismatch(string quoteKind, string collateralKind, string code)
    {
        DcapVector vector = Vector(quoteKind);
        DcapVector other = Vector(collateralKind);

        HardwareVerificationReport report = Verify(quoteKind, vector.Quote, other.Endorsements(), vector.At);

        AssertRejected(report, code);
    }

    [Theory]
    [InlineData("sgx")]
    [InlineData("tdx")]
    public void No_endorsements_at_all_is_collateral_missing(string kind)
    {
        DcapVector vector = Vector(kind);

        HardwareVerificationReport report = Verify(kind, vector.Quote, EndorsementSet.Empty, vector.At);

        AssertRejected(report, VerificationCodes.CollateralMissing);
        AssertRejected(report, VerificationCodes.CrlInvalid);
        Assert.NotNull(report.Identity);
    }

    public static TheoryData<int, byte, string> GoTdxGuestMutations()
    {
        var data = new TheoryData<int, byte, string>();
        DcapVector vector = DcapVector.Load("tdx", "go-tdx-guest-v4-spr-e4-no-matching-tcb-2023");
        foreach (JsonElement m in vector.Expected.GetProperty("negative_mutations").EnumerateArray())
        {
            int offset = m.GetProperty("offset").GetInt32();
            string code = offset switch
            {
                0 => VerificationCodes.Unsupported,
                632 => VerificationCodes.Malformed,
                4931 => VerificationCodes.ChainInvalid,
                4905 => VerificationCodes.UntrustedRoot,
                3935 or 2935 => VerificationCodes.ChainInvalid,
                _ => VerificationCodes.EvidenceSignatureInvalid,
            };
            data.Add(offset, m.GetProperty("set_byte").GetByte(), code);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(GoTdxGuestMutations))]
    public void Listed_negative_mutation_of_the_go_tdx_guest_vector_is_rejected(int offset, byte value, string code)
    {
        DcapVector vector = DcapVector.Load("tdx", "go-tdx-guest-v4-spr-e4-no-matching-tcb-2023");
        byte[] q = (byte[])vector.Quote.Clone();
        q[offset] = value;

        AssertRejected(new TdxVerifier().Verify(q, vector.Endorsements(), vector.At), code);
    }

    [Fact]
    public void Raw_pcs_files_without_crls_are_rejected_for_the_crl()
    {
        DcapVector vector = DcapVector.Load("tdx", "go-tdx-guest-v4-spr-e4-no-matching-tcb-2023");
        EndorsementSet all = vector.Endorsements();
        var withoutCrls = new EndorsementSet(all.Certificates, [], all.Documents, all.Blobs);

        HardwareVerificationReport report = new TdxVerifier().Verify(vector.Quote, withoutCrls, vector.At);

        AssertRejected(report, VerificationCodes.CrlInvalid);
        Assert.DoesNotContain(report.Errors, e => e.Code == VerificationCodes.ChainInvalid);
    }

    internal static void AssertRejected(HardwareVerificationReport report, string code)
    {
        Assert.False(report.Verified);
        Assert.True(report.Errors.Any(e => e.Code == code), $"expected {code}, got: {string.Join("; ", report.Errors)}");
    }

    private static DcapVector Vector(string kind) => DcapVector.Load(kind, kind == "sgx" ? Sgx : Tdx);

    private static (DcapVector Vector, byte[] Quote) QuoteOf(string kind)
    {
        DcapVector vector = kind == "tdx5" ? DcapVector.Load("tdx", "dcap-qvl-tdx-v5-no-matching-tcb-2026") : Vector(kind);
        return (vector, (byte[])vector.Quote.Clone());
    }

    private static HardwareVerificationReport Verify(string kind, byte[] quote, EndorsementSet endorsements, DateTimeOffset at) =>
        (kind == "sgx" ? (IHardwareVerifier)new SgxVerifier() : new TdxVerifier()).Verify(quote, endorsements, at);

    private static string FlipHex(string hex, int index)
    {
        char[] chars = hex.ToCharArray();
        chars[index] = chars[index] == '0' ? '1' : '0';
        return new string(chars);
    }

    private static string ReplaceFirst(string text, string from, string to)
    {
        int i = text.IndexOf(from, StringComparison.Ordinal);
        Assert.True(i >= 0, $"'{from}' not found");
        return text[..i] + to + text[(i + from.Length)..];
    }
}
