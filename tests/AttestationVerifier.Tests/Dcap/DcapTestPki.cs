using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.Dcap;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Dcap;

namespace Enclave.AttestationVerifier.Tests.Dcap;

/// <summary>What a test quote says (everything the tests vary).</summary>
internal sealed record TestQuoteOptions
{
    public bool Tdx { get; init; }
    public ushort Version { get; init; }
    public bool Td15 { get; init; }
    public bool Debug { get; init; }
    public byte[] TeeTcbSvn { get; init; } = [3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    public ushort QeIsvSvn { get; init; } = 8;
    public byte[]? QeMrSigner { get; init; }
    public bool IncludeRootInChain { get; init; } = true;

    /// <summary>PEM to carry instead of the PKI's own PCK chain (for swapped-certificate cases).</summary>
    public string? Chain { get; init; }
}

/// <summary>What the test collateral says.</summary>
internal sealed record TestCollateralOptions
{
    public string? TcbId { get; init; }
    public string? QeId { get; init; }
    public string PlatformStatus { get; init; } = TcbStatus.UpToDate;
    public string QeStatus { get; init; } = TcbStatus.UpToDate;
    public string ModuleStatus { get; init; } = TcbStatus.UpToDate;
    public int[]? LevelSgxComponents { get; init; }
    public int SgxComponentCount { get; init; } = 16;
    public int TdxComponentCount { get; init; } = 16;
    public string? Fmspc { get; init; }
    public bool RevokePck { get; init; }
    public bool RevokeCa { get; init; }
    public bool RevokeTcbSigner { get; init; }
    public bool OmitCrls { get; init; }
}

/// <summary>
/// A test-only PKI shaped like Intel's (root → PCK Platform CA → PCK certificate with the Intel SGX extension;
/// root → TCB signing certificate), with its own CRLs, TCB info and QE identity, and quotes signed by it.
/// Verifiers under test get its root injected as the anchor.
/// </summary>
internal sealed class DcapTestPki : IDisposable
{
    public static readonly DateTimeOffset At = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly int[] PckComps = [5, 5, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0];
    public const int PckPceSvn = 13;
    public const string FmspcHex = "30606a000000";
    public static readonly byte[] Ppid = Convert.FromHexString("00112233445566778899aabbccddeeff");
    public static readonly byte[] QeMrSigner = SHA256.HashData("test quoting enclave signer"u8);

    // Windows (distinct so each boundary fails one check): certificates, then TCB info, QE identity, CRLs.
    public static readonly DateTimeOffset TcbIssue = new(2029, 12, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset TcbNext = new(2030, 1, 31, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset QeIssue = new(2029, 12, 2, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset QeNext = new(2030, 1, 30, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset RootCrlThis = new(2029, 12, 3, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset RootCrlNext = new(2030, 1, 29, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset PckCrlThis = new(2029, 12, 4, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset PckCrlNext = new(2030, 1, 28, 0, 0, 0, TimeSpan.Zero);

    public DcapTestPki(int[]? pckComps = null, string? caName = null)
    {
        RootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        PckKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        TcbKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        AttestationKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Root = SelfSigned(RootKey, "CN=Test SGX Root CA, O=Enclave Tests", Year(2020), Year(2040));
        Ca = Issue(Root, CaKey, caName ?? "CN=Test SGX PCK Platform CA, O=Enclave Tests", Year(2021), Year(2039), ca: true, null, 2);
        Pck = Issue(Ca, PckKey, "CN=Test SGX PCK Certificate, O=Enclave Tests", Year(2022), Year(2038), ca: false, PckExtension(pckComps ?? PckComps), 3);
        TcbSigner = Issue(Root, TcbKey, "CN=Test SGX TCB Signing, O=Enclave Tests", Year(2023), Year(2037), ca: false, null, 4);
    }

    public ECDsa RootKey { get; }
    public ECDsa CaKey { get; }
    public ECDsa PckKey { get; }
    public ECDsa TcbKey { get; }
    public ECDsa AttestationKey { get; }
    public X509Certificate2 Root { get; }
    public X509Certificate2 Ca { get; }
    public X509Certificate2 Pck { get; }
    public X509Certificate2 TcbSigner { get; }

    public IHardwareVerifier Verifier(bool tdx) =>
        tdx ? new TdxVerifier(PublicOnly(Root), EndorsementCollateralSource.Instance) : new SgxVerifier(PublicOnly(Root), EndorsementCollateralSource.Instance);

    public static DateTimeOffset Year(int year) => new(year, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public byte[] Quote(TestQuoteOptions o)
    {
        ushort version = o.Version != 0 ? o.Version : (ushort)(o.Tdx ? 4 : 3);
        var signed = new List<byte>();
        var header = new byte[48];
        BinaryPrimitives.WriteUInt16LittleEndian(header, version);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(2), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), o.Tdx ? 0x81u : 0u);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), 8);
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(10), PckPceSvn);
        Convert.FromHexString("939a7233f79c4ca9940a0db3957f0607").CopyTo(header, 12);
        signed.AddRange(header);

        byte[] body;
        if (o.Tdx)
        {
            body = Pattern(o.Td15 ? 648 : 584, 0x40);
            o.TeeTcbSvn.CopyTo(body, 0);
            Array.Clear(body, 64, 56);                 // mr_signer_seam and seam_attributes zero (Intel module)
            Array.Clear(body, 120, 8);
            body[120] = (byte)(o.Debug ? 0x01 : 0x00);
            body[123] = 0x10;
            if (version == 5)
            {
                signed.AddRange(BitConverter.GetBytes((ushort)(o.Td15 ? 3 : 2)));
                signed.AddRange(BitConverter.GetBytes((uint)body.Length));
            }
        }
        else
        {
            body = Pattern(384, 0x20);
            Array.Clear(body, 48, 16);
            body[48] = (byte)(0x05 | (o.Debug ? 0x02 : 0x00));
            body[56] = 0xe7;
            BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(256), 7);
            BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(258), 3);
        }

        signed.AddRange(body);
        byte[] signedRegion = [.. signed];
        byte[] signature = AttestationKey.SignData(signedRegion, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        ECParameters p = AttestationKey.ExportParameters(false);
        byte[] attestationKey = [.. p.Q.X!, .. p.Q.Y!];
        byte[] authData = Pattern(32, 0x77);

        byte[] qeReport = new byte[384];
        qeReport[48] = 0x11;
        (o.QeMrSigner ?? QeMrSigner).CopyTo(qeReport, 128);
        BinaryPrimitives.WriteUInt16LittleEndian(qeReport.AsSpan(256), (ushort)(o.Tdx ? 2 : 1));
        BinaryPrimitives.WriteUInt16LittleEndian(qeReport.AsSpan(258), o.QeIsvSvn);
        SHA256.HashData([.. attestationKey, .. authData]).CopyTo(qeReport, 320);
        byte[] qeSignature = PckKey.SignData(qeReport, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        string pem = o.Chain ?? Pem(Pck) + Pem(Ca) + (o.IncludeRootInChain ? Pem(Root) : string.Empty);
        byte[] chain = [.. Encoding.ASCII.GetBytes(pem), 0];
        byte[] qeCertData = [.. qeReport, .. qeSignature, .. U16(32), .. authData, .. U16(5), .. U32(chain.Length), .. chain];
        byte[] signatureData = version == 3
            ? [.. signature, .. attestationKey, .. qeCertData]
            : [.. signature, .. attestationKey, .. U16(6), .. U32(qeCertData.Length), .. qeCertData];
        return [.. signedRegion, .. U32(signatureData.Length), .. signatureData];
    }

    public EndorsementSet Collateral(bool tdx, TestCollateralOptions? options = null) =>
        EndorsementSet.FromFiles([("collateral.json", CollateralJson(tdx, options ?? new TestCollateralOptions()))]);

    public byte[] CollateralJson(bool tdx, TestCollateralOptions o)
    {
        string tcbInfo = TcbInfoJson(tdx, o);
        string qeIdentity = QeIdentityJson(tdx, o);
        var root = new Dictionary<string, string>
        {
            ["pck_crl_issuer_chain"] = Pem(Ca) + Pem(Root),
            ["tcb_info_issuer_chain"] = Pem(TcbSigner) + Pem(Root),
            ["tcb_info"] = tcbInfo,
            ["tcb_info_signature"] = Convert.ToHexStringLower(SignJson(tcbInfo)),
            ["qe_identity_issuer_chain"] = Pem(TcbSigner) + Pem(Root),
            ["qe_identity"] = qeIdentity,
            ["qe_identity_signature"] = Convert.ToHexStringLower(SignJson(qeIdentity)),
        };
        if (!o.OmitCrls)
        {
            root["root_ca_crl"] = Convert.ToHexStringLower(RootCrl(o.RevokeCa, o.RevokeTcbSigner));
            root["pck_crl"] = Convert.ToHexStringLower(PckCrl(o.RevokePck));
        }

        return JsonSerializer.SerializeToUtf8Bytes(root);
    }

    public byte[] SignJson(string body) =>
        TcbKey.SignData(Encoding.UTF8.GetBytes(body), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    public byte[] RootCrl(bool revokeCa = false, bool revokeTcb = false)
    {
        var builder = new CertificateRevocationListBuilder();
        builder.AddEntry(Serial(99), At.AddDays(-40));
        if (revokeCa)
        {
            builder.AddEntry(Ca, At.AddDays(-30));
        }

        if (revokeTcb)
        {
            builder.AddEntry(TcbSigner, At.AddDays(-30));
        }

        return builder.Build(Root, BigInteger.One, RootCrlNext, HashAlgorithmName.SHA256, thisUpdate: RootCrlThis);
    }

    public byte[] PckCrl(bool revokePck = false)
    {
        var builder = new CertificateRevocationListBuilder();
        builder.AddEntry(Serial(98), At.AddDays(-40));
        if (revokePck)
        {
            builder.AddEntry(Pck, At.AddDays(-30));
        }

        return builder.Build(Ca, BigInteger.One, PckCrlNext, HashAlgorithmName.SHA256, thisUpdate: PckCrlThis);
    }

    public static string Pem(X509Certificate2 certificate) => new string(PemEncoding.Write("CERTIFICATE", certificate.RawData)) + "\n";

    public void Dispose()
    {
        foreach (IDisposable d in new IDisposable[] { RootKey, CaKey, PckKey, TcbKey, AttestationKey, Root, Ca, Pck, TcbSigner })
        {
            d.Dispose();
        }
    }

    private string TcbInfoJson(bool tdx, TestCollateralOptions o)
    {
        string id = o.TcbId ?? (tdx ? "TDX" : "SGX");
        int[] comps = o.LevelSgxComponents ?? PckComps;
        string Level(int[] sgx, int pce, string status, string date, string advisories) =>
            "{\"tcb\":{\"sgxtcbcomponents\":[" + string.Join(',', sgx.Take(o.SgxComponentCount).Select(c => "{\"svn\":" + c + "}")) + "]"
            + ",\"pcesvn\":" + pce
            + (id == "TDX" ? ",\"tdxtcbcomponents\":[" + string.Join(',', new[] { 3, 0, 2 }.Concat(Enumerable.Repeat(0, 13)).Take(o.TdxComponentCount).Select(c => "{\"svn\":" + c + "}")) + "]" : string.Empty)
            + "},\"tcbDate\":\"" + date + "\",\"tcbStatus\":\"" + status + "\",\"advisoryIDs\":[" + advisories + "]}";
        string levels = Level(comps, PckPceSvn, o.PlatformStatus, "2029-06-01T00:00:00Z", o.PlatformStatus == TcbStatus.UpToDate ? string.Empty : "\"INTEL-SA-00001\"")
            + "," + Level([.. comps.Select(c => Math.Max(0, c - 1))], 1, TcbStatus.OutOfDate, "2028-06-01T00:00:00Z", "\"INTEL-SA-00002\"");
        string module = id == "TDX"
            ? ",\"tdxModule\":{\"mrsigner\":\"" + new string('0', 96) + "\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\"}"
              + ",\"tdxModuleIdentities\":[{\"id\":\"TDX_01\",\"mrsigner\":\"" + new string('0', 96) + "\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\",\"tcbLevels\":["
              + "{\"tcb\":{\"isvsvn\":3},\"tcbDate\":\"2029-06-01T00:00:00Z\",\"tcbStatus\":\"" + o.ModuleStatus + "\"},"
              + "{\"tcb\":{\"isvsvn\":1},\"tcbDate\":\"2028-06-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\"}]}]"
            : string.Empty;
        return "{\"id\":\"" + id + "\",\"version\":3,\"issueDate\":\"" + Iso(TcbIssue) + "\",\"nextUpdate\":\"" + Iso(TcbNext)
            + "\",\"fmspc\":\"" + (o.Fmspc ?? FmspcHex).ToUpperInvariant() + "\",\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":17"
            + module + ",\"tcbLevels\":[" + levels + "]}";
    }

    private static string QeIdentityJson(bool tdx, TestCollateralOptions o)
    {
        string id = o.QeId ?? (tdx ? "TD_QE" : "QE");
        return "{\"id\":\"" + id + "\",\"version\":2,\"issueDate\":\"" + Iso(QeIssue) + "\",\"nextUpdate\":\"" + Iso(QeNext)
            + "\",\"tcbEvaluationDataNumber\":17,\"miscselect\":\"00000000\",\"miscselectMask\":\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\""
            + ",\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"" + Convert.ToHexString(QeMrSigner) + "\",\"isvprodid\":" + (tdx ? 2 : 1)
            + ",\"tcbLevels\":[{\"tcb\":{\"isvsvn\":8},\"tcbDate\":\"2029-06-01T00:00:00Z\",\"tcbStatus\":\"" + o.QeStatus + "\"},"
            + "{\"tcb\":{\"isvsvn\":4},\"tcbDate\":\"2028-06-01T00:00:00Z\",\"tcbStatus\":\"OutOfDate\",\"advisoryIDs\":[\"INTEL-SA-00003\"]}]}";
    }

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static X509Certificate2 SelfSigned(ECDsa key, string name, DateTimeOffset from, DateTimeOffset to)
    {
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(from, to);
    }

    private static X509Certificate2 Issue(X509Certificate2 issuer, ECDsa key, string name, DateTimeOffset from, DateTimeOffset to, bool ca, byte[]? sgx, byte serial)
    {
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, ca, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(ca ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign : X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (sgx is not null)
        {
            request.CertificateExtensions.Add(new X509Extension("1.2.840.113741.1.13.1", sgx, false));
        }

        using X509Certificate2 issued = request.Create(issuer, from, to, [0x10, serial, 0x33, 0x44]);
        return issued.CopyWithPrivateKey(key);
    }

    private static byte[] PckExtension(int[] comps)
    {
        const string p = "1.2.840.113741.1.13.1";
        var w = new AsnWriter(AsnEncodingRules.DER);
        using (w.PushSequence())
        {
            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(p + ".1");
                w.WriteOctetString(Ppid);
            }

            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(p + ".2");
                using (w.PushSequence())
                {
                    for (int i = 0; i < 16; i++)
                    {
                        using (w.PushSequence())
                        {
                            w.WriteObjectIdentifier(p + ".2." + (i + 1));
                            w.WriteInteger(comps[i]);
                        }
                    }

                    using (w.PushSequence())
                    {
                        w.WriteObjectIdentifier(p + ".2.17");
                        w.WriteInteger(PckPceSvn);
                    }

                    using (w.PushSequence())
                    {
                        w.WriteObjectIdentifier(p + ".2.18");
                        w.WriteOctetString(comps.Select(c => (byte)c).ToArray());
                    }
                }
            }

            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(p + ".3");
                w.WriteOctetString([0, 0]);
            }

            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(p + ".4");
                w.WriteOctetString(Convert.FromHexString(FmspcHex));
            }

            using (w.PushSequence())
            {
                w.WriteObjectIdentifier(p + ".5");
                w.WriteEnumeratedValue(SgxTypeValue.Scalable);
            }
        }

        return w.Encode();
    }

    private static X509Certificate2 PublicOnly(X509Certificate2 c) => X509CertificateLoader.LoadCertificate(c.RawData);

    private static byte[] Serial(byte b) => [0x7f, b];

    private static byte[] Pattern(int length, byte seed) => Enumerable.Range(0, length).Select(i => (byte)(seed + i)).ToArray();

    private static byte[] U16(int v) => BitConverter.GetBytes((ushort)v);

    private static byte[] U32(int v) => BitConverter.GetBytes((uint)v);

    private enum SgxTypeValue
    {
        Standard = 0,
        Scalable = 1,
    }
}
