using System.Buffers.Binary;
using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence.SevSnp;
using Enclave.AttestationVerifier.Verification.SevSnp;

namespace Enclave.AttestationVerifier.Tests.SevSnp;

/// <summary>
/// An AMD-shaped test PKI: an ARK-&lt;product&gt; (RSA, RSASSA-PSS SHA-384, self-signed, a CA with keyCertSign), an ASK
/// SEV-&lt;product&gt; and an ASVK SEV-VLEK-&lt;product&gt; signed by it (CAs with pathLenConstraint 0 and keyCertSign), and VCEK/VLEK certificates (P-384) carrying the AMD SPL and hwID
/// extensions; plus reports signed with those keys. Lets tests cover TCB, debug and chain cases that genuine
/// AMD reports (which cannot be re-signed) cannot.
/// </summary>
internal sealed class SevSnpTestPki
{
    public static readonly DateTimeOffset NotBefore = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset NotAfter = new(2034, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset At = new(2026, 6, 1, 0, 0, 0, TimeSpan.Zero);

    private static readonly Lazy<SevSnpTestPki> s_milan = new(() => new SevSnpTestPki(SevSnpProduct.Milan));
    private static readonly Lazy<SevSnpTestPki> s_turin = new(() => new SevSnpTestPki(SevSnpProduct.Turin));
    private static readonly Lazy<SevSnpTestPki> s_impostor = new(() => new SevSnpTestPki(SevSnpProduct.Milan));

    private SevSnpTestPki(SevSnpProduct product)
    {
        Product = product;
        ArkKey = RSA.Create(2048);
        AskKey = RSA.Create(2048);
        AsvkKey = RSA.Create(2048);
        CertificateRequest ark = new(Name("ARK-" + product), ArkKey, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
        ark.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        ark.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        Ark = ark.CreateSelfSigned(NotBefore.AddYears(-1), NotAfter.AddYears(10));
        Ask = Intermediate("SEV-" + product, AskKey, 2);
        Asvk = Intermediate("SEV-VLEK-" + product, AsvkKey, 3);
    }

    public static SevSnpTestPki Milan => s_milan.Value;

    public static SevSnpTestPki Turin => s_turin.Value;

    /// <summary>Another PKI with the same names as <see cref="Milan"/> but other keys.</summary>
    public static SevSnpTestPki Impostor => s_impostor.Value;

    public SevSnpProduct Product { get; }

    public RSA ArkKey { get; }

    public RSA AskKey { get; }

    public RSA AsvkKey { get; }

    public X509Certificate2 Ark { get; }

    public X509Certificate2 Ask { get; }

    public X509Certificate2 Asvk { get; }

    public IReadOnlyDictionary<SevSnpProduct, X509Certificate2> Roots => new Dictionary<SevSnpProduct, X509Certificate2> { [Product] = Ark };

    public SevSnpVerifier Verifier() => new(Roots);

    public static X500DistinguishedName Name(string commonName) =>
        new($"CN={commonName}, O=Advanced Micro Devices, L=Santa Clara, S=CA, C=US, OU=Engineering");

    /// <summary>A VCEK (or VLEK) with the given SPLs and hwID, signed by the ASK (or ASVK) unless another issuer is named.</summary>
    public (X509Certificate2 Certificate, ECDsa Key) EndorsementKey(
        bool vlek,
        Tcb tcb,
        byte[]? hardwareId = null,
        bool omitHardwareId = false,
        X509Certificate2? issuer = null,
        RSA? issuerKey = null,
        ECCurve? curve = null,
        RSASignaturePadding? padding = null,
        DateTimeOffset? notBefore = null,
        DateTimeOffset? notAfter = null,
        bool omitSpl = false)
    {
        ECDsa key = ECDsa.Create(curve ?? ECCurve.NamedCurves.nistP384);
        CertificateRequest request = new(Name(vlek ? "SEV-VLEK" : "SEV-VCEK"), key, HashAlgorithmName.SHA384);
        request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.1", Integer(1), false));
        request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.2", Ia5(Product + (vlek ? string.Empty : "-B0")), false));
        if (!omitSpl)
        {
            request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.3.1", Integer(tcb.BootLoader), false));
        }

        request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.3.2", Integer(tcb.Tee), false));
        request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.3.3", Integer(tcb.Snp), false));
        for (int spl = 4; spl <= 7; spl++)
        {
            request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.3." + spl, Integer(0), false));
        }

        request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.3.8", Integer(tcb.Microcode), false));
        if (Product == SevSnpProduct.Turin)
        {
            request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.3.9", Integer(tcb.Fmc), false));
        }

        if (!vlek && !omitHardwareId)
        {
            request.CertificateExtensions.Add(new X509Extension("1.3.6.1.4.1.3704.1.4", hardwareId ?? ChipId, false));
        }

        X509Certificate2 signer = issuer ?? (vlek ? Asvk : Ask);
        RSA signerKey = issuerKey ?? (vlek ? AsvkKey : AskKey);
        X509Certificate2 certificate = request.Create(
            signer.SubjectName,
            X509SignatureGenerator.CreateForRSA(signerKey, padding ?? RSASignaturePadding.Pss),
            notBefore ?? NotBefore,
            notAfter ?? NotAfter,
            [0]);
        return (certificate, key);
    }

    public static byte[] ChipId { get; } = [.. Enumerable.Range(0, 64).Select(i => (byte)(0xA0 ^ i))];

    /// <summary>The endorsements as AMD KDS and the guest's certificate table provide them.</summary>
    public EndorsementSet Endorsements(params X509Certificate2[] certificates) =>
        new(certificates, [], [], []);

    public EndorsementSet StandardEndorsements(X509Certificate2 endorsementKey) =>
        Endorsements(endorsementKey, Ask, Asvk, Ark);

    /// <summary>A CRL issued by <paramref name="issuer"/> (RSASSA-PSS SHA-384) listing <paramref name="revoked"/>.</summary>
    public static byte[] Crl(X509Certificate2 issuer, RSA issuerKey, DateTimeOffset thisUpdate, DateTimeOffset nextUpdate, params X509Certificate2[] revoked)
    {
        CertificateRevocationListBuilder builder = new();
        foreach (X509Certificate2 certificate in revoked)
        {
            builder.AddEntry(certificate.SerialNumberBytes.Span, thisUpdate.AddDays(-1));
        }

        return builder.Build(
            issuer.SubjectName,
            X509SignatureGenerator.CreateForRSA(issuerKey, RSASignaturePadding.Pss),
            BigInteger.One,
            nextUpdate,
            HashAlgorithmName.SHA384,
            X509AuthorityKeyIdentifierExtension.CreateFromIssuerNameAndSerialNumber(issuer.IssuerName, issuer.SerialNumberBytes.Span),
            thisUpdate);
    }

    private X509Certificate2 Intermediate(string commonName, RSA key, byte serial)
    {
        CertificateRequest request = new(Name(commonName), key, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        return request.Create(Ark.SubjectName, X509SignatureGenerator.CreateForRSA(ArkKey, RSASignaturePadding.Pss),
            NotBefore.AddMonths(-6), NotAfter.AddYears(5), [serial]);
    }

    private static byte[] Integer(int value)
    {
        AsnWriter writer = new(AsnEncodingRules.DER);
        writer.WriteInteger(new BigInteger(value));
        return writer.Encode();
    }

    private static byte[] Ia5(string value)
    {
        AsnWriter writer = new(AsnEncodingRules.DER);
        writer.WriteCharacterString(UniversalTagNumber.IA5String, value);
        return writer.Encode();
    }
}

/// <summary>TCB component SVNs, encoded per product into TCB_VERSION.</summary>
internal sealed record Tcb(byte BootLoader, byte Tee, byte Snp, byte Microcode, byte Fmc = 0)
{
    public static Tcb Default { get; } = new(3, 0, 8, 115, 1);

    public ulong Encode(SevSnpProduct product)
    {
        Span<byte> bytes = stackalloc byte[8];
        if (product == SevSnpProduct.Turin)
        {
            bytes[0] = Fmc;
            bytes[1] = BootLoader;
            bytes[2] = Tee;
            bytes[3] = Snp;
        }
        else
        {
            bytes[0] = BootLoader;
            bytes[1] = Tee;
            bytes[6] = Snp;
        }

        bytes[7] = Microcode;
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }
}

/// <summary>Builds an ATTESTATION_REPORT and signs it like the AMD-SP (ECDSA P-384, little-endian R and S).</summary>
internal sealed class SevSnpReportBuilder
{
    public uint Version { get; set; } = 2;

    public ulong Policy { get; set; } = 0x30000;

    public uint GuestSvn { get; set; } = 7;

    public uint Vmpl { get; set; }

    public uint SignatureAlgorithm { get; set; } = 1;

    public uint Flags { get; set; }

    public ulong ReportedTcb { get; set; }

    public byte[] ChipId { get; set; } = SevSnpTestPki.ChipId;

    public byte CpuidFamily { get; set; } = 0x19;

    public byte CpuidModel { get; set; } = 0x01;

    public byte[] IdKeyDigest { get; set; } = new byte[48];

    public byte[] AuthorKeyDigest { get; set; } = new byte[48];

    public ulong LaunchMitVector { get; set; } = 0x5;

    public static byte[] ReportData { get; } = [.. Enumerable.Range(0, 64).Select(i => (byte)i)];

    public static byte[] Measurement { get; } = [.. Enumerable.Range(0, 48).Select(i => (byte)(0x40 + i))];

    public byte[] Build(ECDsa key)
    {
        byte[] report = new byte[SevSnpReport.Length];
        Span<byte> r = report;
        BinaryPrimitives.WriteUInt32LittleEndian(r[SevSnpReport.VersionOffset..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(r[SevSnpReport.GuestSvnOffset..], GuestSvn);
        BinaryPrimitives.WriteUInt64LittleEndian(r[SevSnpReport.PolicyOffset..], Policy);
        BinaryPrimitives.WriteUInt32LittleEndian(r[SevSnpReport.VmplOffset..], Vmpl);
        BinaryPrimitives.WriteUInt32LittleEndian(r[SevSnpReport.SignatureAlgoOffset..], SignatureAlgorithm);
        BinaryPrimitives.WriteUInt64LittleEndian(r[SevSnpReport.CurrentTcbOffset..], ReportedTcb);
        BinaryPrimitives.WriteUInt64LittleEndian(r[SevSnpReport.PlatformInfoOffset..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(r[SevSnpReport.FlagsOffset..], Flags);
        ReportData.CopyTo(r[SevSnpReport.ReportDataOffset..]);
        Measurement.CopyTo(r[SevSnpReport.MeasurementOffset..]);
        IdKeyDigest.CopyTo(r[SevSnpReport.IdKeyDigestOffset..]);
        AuthorKeyDigest.CopyTo(r[SevSnpReport.AuthorKeyDigestOffset..]);
        BinaryPrimitives.WriteUInt64LittleEndian(r[SevSnpReport.ReportedTcbOffset..], ReportedTcb);
        if (Version >= 3)
        {
            r[SevSnpReport.CpuidFamilyOffset] = CpuidFamily;
            r[SevSnpReport.CpuidModelOffset] = CpuidModel;
            r[SevSnpReport.CpuidSteppingOffset] = 1;
        }

        ChipId.CopyTo(r[SevSnpReport.ChipIdOffset..]);
        BinaryPrimitives.WriteUInt64LittleEndian(r[SevSnpReport.CommittedTcbOffset..], ReportedTcb);
        r[SevSnpReport.CurrentBuildOffset] = 4;
        r[SevSnpReport.CurrentBuildOffset + 1] = 55;
        r[SevSnpReport.CurrentBuildOffset + 2] = 1;
        BinaryPrimitives.WriteUInt64LittleEndian(r[SevSnpReport.LaunchTcbOffset..], ReportedTcb);
        if (Version >= 5)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(r[SevSnpReport.LaunchMitVectorOffset..], LaunchMitVector);
            BinaryPrimitives.WriteUInt64LittleEndian(r[SevSnpReport.CurrentMitVectorOffset..], LaunchMitVector | 2);
        }

        byte[] signature = key.SignData(report.AsSpan(0, SevSnpReport.SignedLength), HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        int half = signature.Length / 2;
        Span<byte> rField = r.Slice(SevSnpReport.SignatureOffset, SevSnpReport.SignatureComponentLength);
        Span<byte> sField = r.Slice(SevSnpReport.SignatureOffset + SevSnpReport.SignatureComponentLength, SevSnpReport.SignatureComponentLength);
        signature.AsSpan(0, half).CopyTo(rField);
        signature.AsSpan(half).CopyTo(sField);
        rField[..half].Reverse();
        sField[..half].Reverse();
        return report;
    }
}
