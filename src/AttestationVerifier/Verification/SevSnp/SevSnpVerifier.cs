using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.SevSnp;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.SevSnp;

namespace Enclave.AttestationVerifier.Verification.SevSnp;

/// <summary>
/// Verifies an AMD SEV-SNP attestation report at an explicit instant: the report's ECDSA P-384 signature with the
/// VCEK or VLEK the report's SIGNING_KEY selects; that key's certificate chained VCEK → ASK → ARK or
/// VLEK → ASVK → ARK by the shared <see cref="CertificateChain"/> (RSASSA-PSS SHA-384 on every certificate, every
/// issuer a CA with keyCertSign within its path length, three certificates at most) to the embedded, pinned ARK
/// of the product its issuer names, every certificate valid at the instant; REPORTED_TCB equal to the TCB the
/// endorsement key certifies (its SPL extensions); and, for a VCEK, CHIP_ID equal to its hwID (unless
/// MASK_CHIP_KEY). The endorsement key and the ASK/ASVK come from the
/// endorsements; an ARK given there is ignored in favour of the embedded one. A CRL in the endorsements issued
/// by the ARK (or the ASK/ASVK) must verify and be current at the instant, and must not list the certificate
/// below it; without a CRL, revocation is not checked (AMD revokes endorsement keys by TCB, not by CRL).
/// AMD publishes no TCB-info document for SNP, so <see cref="HardwareVerificationReport.TcbStatus"/> is
/// <see cref="TcbStatus.UpToDate"/> whenever every check passes, and null otherwise: minimum TCB floors are a
/// policy (appraisal) decision.
/// </summary>
public sealed class SevSnpVerifier : IHardwareVerifier, ISignatureWorkload
{
    public const string KindName = "sev-snp";
    public const string AttestationType = "sevsnpvm";

    // VEK → ASK/ASVK → ARK.
    private static readonly ChainRules s_chainRules = new(3, Signature: ChainSignature.RsaPssSha384);

    // Decoded certificates and CRLs, kept per endorsement set so a warm verification decodes none of them; every
    // time check (validity, CRL thisUpdate/nextUpdate) is still made at each call's instant.
    private static readonly ConditionalWeakTable<EndorsementSet, SevSnpEndorsements> s_endorsements = new();

    private readonly IReadOnlyDictionary<SevSnpProduct, X509Certificate2> _roots;

    /// <summary>A verifier trusting the genuine AMD ARKs (<see cref="AmdRootCertificates"/>).</summary>
    public SevSnpVerifier()
        : this(AmdRootCertificates.All)
    {
    }

    /// <summary>A verifier trusting other roots (tests build their own AMD-shaped PKI).</summary>
    internal SevSnpVerifier(IReadOnlyDictionary<SevSnpProduct, X509Certificate2> roots)
    {
        ArgumentNullException.ThrowIfNull(roots);
        _roots = roots;
    }

    public string Kind => KindName;

    public bool Recognizes(ReadOnlySpan<byte> evidence) =>
        evidence.Length == SevSnpReport.Length
        && evidence[0] is >= SevSnpReport.MinSupportedVersion and <= SevSnpReport.MaxSupportedVersion
        && evidence[1..4].IndexOfAnyExcept((byte)0) < 0;

    public HardwareVerificationReport Verify(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(endorsements);
        SevSnpReport report;
        try
        {
            report = SevSnpReport.Parse(evidence.Span);
        }
        catch (EvidenceFormatException ex)
        {
            return HardwareVerificationReport.Unusable(Kind, VerificationCodes.Malformed, ex.Message);
        }

        List<VerificationProblem> errors = [];
        SevSnpEndorsements decoded = s_endorsements.GetValue(endorsements, static set => new SevSnpEndorsements(set));
        ChainResult chain = CheckChain(report, decoded, at, errors);
        SevSnpProduct product = chain.Product != SevSnpProduct.Unknown
            ? chain.Product
            : report.CpuidProduct != SevSnpProduct.Unknown
                ? report.CpuidProduct
                : SevSnpProducts.FromName(chain.EndorsementKey?.ProductName());

        if (chain.EndorsementKey is { } vek)
        {
            CheckTcb(report, vek, product, errors);
            if (vek.IsVcek && !report.MaskChipKey)
            {
                CheckHardwareId(report, vek, errors);
            }
        }

        Dictionary<string, string> claims = Claims(report, product, chain.EndorsementKey);
        HardwareIdentity identity = Identity(report, product, chain.EndorsementKey);
        bool verified = errors.Count == 0;
        return new HardwareVerificationReport(Kind, verified, verified ? TcbStatus.UpToDate : null, claims, errors, identity);
    }

    /// <inheritdoc/>
    /// <remarks>A warm verification checks the report's ECDSA P-384 signature; the VCEK/VLEK → ASK/ASVK → ARK
    /// signatures are remembered once verified.</remarks>
    /// <exception cref="InvalidOperationException">The report does not parse or no endorsement key verifies it.</exception>
    public Func<bool> CreateSignatureWorkload(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(endorsements);
        SevSnpReport report = SevSnpReport.Parse(evidence.Span);
        AmdCertificate vek = s_endorsements.GetValue(endorsements, static set => new SevSnpEndorsements(set)).Certificates
            .FirstOrDefault(c => (c.IsVcek || c.IsVlek) && SignatureVerifies(report, c))
            ?? throw new InvalidOperationException("no endorsement key verifies the report");
        return () => SignatureVerifies(report, vek);
    }

    private sealed record ChainResult(AmdCertificate? EndorsementKey, SevSnpProduct Product);

    private sealed class SevSnpEndorsements(EndorsementSet set)
    {
        public List<AmdCertificate> Certificates { get; } = [.. set.Certificates.Select(c => new AmdCertificate(c))];

        public List<(string Name, AmdCrl? Crl)> Crls { get; } = [.. set.Crls.Select(c => (c.Name, AmdCrl.TryParse(c.Der)))];
    }

    private ChainResult CheckChain(SevSnpReport report, SevSnpEndorsements endorsements, DateTimeOffset at, List<VerificationProblem> errors)
    {
        List<AmdCertificate> certificates = endorsements.Certificates;
        if (report.SignatureAlgorithm != SevSnpReport.EcdsaP384Sha384)
        {
            errors.Add(new(VerificationCodes.AlgorithmNotAllowed,
                $"SIGNATURE_ALGO is {report.SignatureAlgorithm}; only 1 (ECDSA P-384 with SHA-384) is defined"));
        }

        bool wantVlek;
        switch (report.SigningKey)
        {
            case SevSnpReport.SigningKeyVcek:
                wantVlek = false;
                break;
            case SevSnpReport.SigningKeyVlek:
                wantVlek = true;
                break;
            default:
                errors.Add(new(VerificationCodes.ChainInvalid,
                    $"the report's SIGNING_KEY selector is {report.SigningKey}: neither VCEK (0) nor VLEK (1) signed it"));
                return new ChainResult(null, SevSnpProduct.Unknown);
        }

        string wanted = wantVlek ? "VLEK" : "VCEK";
        List<AmdCertificate> keys = [.. certificates.Where(c => wantVlek ? c.IsVlek : c.IsVcek)];
        List<AmdCertificate> others = [.. certificates.Where(c => wantVlek ? c.IsVcek : c.IsVlek)];
        if (keys.Count == 0 && others.Count == 0)
        {
            errors.Add(new(VerificationCodes.CollateralMissing, $"no {wanted} certificate (CN {(wantVlek ? AmdCertificate.VlekCommonName : AmdCertificate.VcekCommonName)}) among the endorsements"));
            return new ChainResult(null, SevSnpProduct.Unknown);
        }

        if (keys.Count == 0)
        {
            errors.Add(new(VerificationCodes.ChainInvalid,
                $"the report's SIGNING_KEY selector names the {wanted}, but the endorsement key given is a {(wantVlek ? "VCEK" : "VLEK")}"));
            keys = others;
        }

        // Several candidate keys may be offered; the one whose key verifies the report is the endorsement key.
        AmdCertificate? verifying = keys.FirstOrDefault(k => SignatureVerifies(report, k));
        AmdCertificate vek = verifying ?? keys[0];
        if (verifying is null)
        {
            CheckReportSignature(report, vek, errors);
        }

        CheckValidity(vek, "the " + (vek.IsVlek ? "VLEK" : "VCEK"), at, errors);

        // An ARK among the endorsements is never used: the pinned one of the product is the only root.
        List<X509Certificate2> intermediates = [.. certificates.Where(c => !c.IsVcek && !c.IsVlek && !c.IsSelfIssued).Select(c => c.Certificate)];
        if (intermediates.Count == 0)
        {
            errors.Add(new(VerificationCodes.CollateralMissing, $"no {(vek.IsVlek ? "ASVK" : "ASK")} certificate among the endorsements to verify the {wanted} with"));
            return new ChainResult(vek, SevSnpProduct.Unknown);
        }

        // The issuer the endorsement key names (SEV-<product> or SEV-VLEK-<product>) selects the product's ARK.
        SevSnpProduct product = SevSnpProducts.FromName(vek.IssuerCommonName);
        if (product == SevSnpProduct.Unknown || !_roots.TryGetValue(product, out X509Certificate2? root))
        {
            bool named = intermediates.Any(c => c.SubjectName.RawData.AsSpan().SequenceEqual(vek.Certificate.IssuerName.RawData));
            errors.Add(named
                ? new(VerificationCodes.UntrustedRoot, $"'{vek.IssuerCommonName}' names no product whose ARK is trusted")
                : new(VerificationCodes.ChainInvalid, $"no endorsement certificate named '{vek.Certificate.Issuer}' signed the {wanted} (RSASSA-PSS SHA-384)"));
            return new ChainResult(vek, SevSnpProduct.Unknown);
        }

        CertificatePath path = CertificateChain.Build(vek.Certificate, intermediates, root, s_chainRules);
        if (!path.IsValid)
        {
            // An ASK/ASVK whose link up to the pinned ARK is missing or does not verify is not the genuine one of
            // the product; a broken link below it (the endorsement key's) is a chain error.
            X509Certificate2 failed = path.Chain[Math.Clamp(path.FailedIndex, 0, path.Chain.Count - 1)];
            bool untrusted = path.Failure == ChainFailure.UntrustedRoot
                || (path.FailedIndex >= 1 && !IsRoot(failed, root)
                    && path.Failure is ChainFailure.SignatureInvalid or ChainFailure.NoIssuer or ChainFailure.SignatureAlgorithm);
            errors.Add(untrusted
                ? new(VerificationCodes.UntrustedRoot, $"{path.Message}: not chained to the genuine ARK of {product} (DER SHA-256 {Convert.ToHexStringLower(SHA256.HashData(root.RawData))})")
                : new(VerificationCodes.ChainInvalid, $"the {wanted} chain: {path.Message}"));
            return new ChainResult(vek, untrusted ? product : SevSnpProduct.Unknown);
        }

        AmdCertificate? issuer = path.Chain.Count == 3
            ? certificates.FirstOrDefault(c => c.Certificate.RawDataMemory.Span.SequenceEqual(path.Chain[1].RawDataMemory.Span))
            : null;
        if (issuer is null)
        {
            errors.Add(new(VerificationCodes.ChainInvalid, $"the {wanted} is issued by '{path.Chain[1].Subject}'; it must chain through an {(vek.IsVlek ? "ASVK" : "ASK")} to the ARK"));
            return new ChainResult(vek, SevSnpProduct.Unknown);
        }

        bool issuerIsAsvk = issuer.CommonName.StartsWith("SEV-VLEK-", StringComparison.Ordinal);
        if (issuerIsAsvk != vek.IsVlek)
        {
            errors.Add(new(VerificationCodes.ChainInvalid,
                $"the {(vek.IsVlek ? "VLEK" : "VCEK")} is issued by '{issuer.CommonName}'; a {(vek.IsVlek ? "VLEK must chain to an ASVK (SEV-VLEK-<product>)" : "VCEK must chain to an ASK (SEV-<product>)")}"));
        }

        // The endorsement key's own validity is checked above, whatever became of the path.
        for (int i = 1; i < path.Chain.Count; i++)
        {
            if (at < path.NotBefore(i) || at > path.NotAfter(i))
            {
                string what = i == path.Chain.Count - 1 ? $"the ARK of {product}" : $"the {(issuerIsAsvk ? "ASVK" : "ASK")} '{issuer.CommonName}'";
                errors.Add(new(VerificationCodes.CertificateExpired, $"{what} is valid {path.DescribeValidity(i)}; the instant is {at.ToUniversalTime():O}"));
            }
        }

        CheckRevocation(endorsements.Crls, [(root, issuer.Certificate, issuer.CommonName), (issuer.Certificate, vek.Certificate, wanted)], at, errors);

        if (report.CpuidProduct != SevSnpProduct.Unknown && report.CpuidProduct != product)
        {
            errors.Add(new(VerificationCodes.CollateralMismatch,
                $"the report's CPUID names {report.CpuidProduct}, but the endorsement chain is for {product}"));
        }

        return new ChainResult(vek, product);
    }

    private static void CheckReportSignature(SevSnpReport report, AmdCertificate vek, List<VerificationProblem> errors)
    {
        if (report.SignatureAlgorithm != SevSnpReport.EcdsaP384Sha384)
        {
            return;
        }

        using ECDsa? key = vek.Certificate.GetECDsaPublicKey();
        if (key is null || key.KeySize != 384)
        {
            errors.Add(new(VerificationCodes.CollateralInvalid, "the endorsement key certificate does not hold an ECDSA P-384 key"));
        }
        else if (!SignatureVerifies(report, vek))
        {
            errors.Add(new(VerificationCodes.EvidenceSignatureInvalid,
                $"the report signature does not verify with the {(vek.IsVlek ? "VLEK" : "VCEK")} key (ECDSA P-384, SHA-384 over bytes 0x000-0x29F; R and S zero above 48 bytes, the rest of SIGNATURE zero)"));
        }
    }

    // AMD KDS publishes a CRL per product signed by the ARK (revoked ASKs/ASVKs). A CRL given in the endorsements
    // is used when its issuer is a certificate of this chain; it must verify and be current, and then no
    // certificate it covers may be listed. Without a CRL, revocation is not checked.
    private static void CheckRevocation(
        List<(string Name, AmdCrl? Crl)> crls, (X509Certificate2 Issuer, X509Certificate2 Subject, string Name)[] links, DateTimeOffset at, List<VerificationProblem> errors)
    {
        foreach ((string name, AmdCrl? crl) in crls)
        {
            if (crl is null)
            {
                errors.Add(new(VerificationCodes.CrlInvalid, $"CRL '{name}' is not a well-formed CRL"));
                continue;
            }

            foreach ((X509Certificate2 issuer, X509Certificate2 subject, string subjectName) in links)
            {
                if (!crl.Issuer.AsSpan().SequenceEqual(issuer.SubjectName.RawData))
                {
                    continue;
                }

                if (!crl.IsSignedBy(issuer))
                {
                    errors.Add(new(VerificationCodes.CrlInvalid, $"CRL '{name}' is not signed by '{issuer.Subject}' (RSASSA-PSS SHA-384)"));
                }
                else if (at < crl.ThisUpdate || (crl.NextUpdate is { } next && at > next))
                {
                    errors.Add(new(VerificationCodes.CrlInvalid,
                        $"CRL '{name}' is valid from {crl.ThisUpdate:O} to {crl.NextUpdate?.ToString("O", CultureInfo.InvariantCulture) ?? "(no nextUpdate)"}; the instant is {at.ToUniversalTime():O}"));
                }
                else if (crl.Lists(subject))
                {
                    errors.Add(new(VerificationCodes.CertificateRevoked, $"'{subjectName}' (serial {subject.SerialNumber}) is revoked by CRL '{name}'"));
                }
            }
        }
    }

    private static bool IsRoot(X509Certificate2 certificate, X509Certificate2 root) =>
        certificate.RawDataMemory.Span.SequenceEqual(root.RawDataMemory.Span);

    private static bool SignatureVerifies(SevSnpReport report, AmdCertificate vek)
    {
        if (report.SignatureAlgorithm != SevSnpReport.EcdsaP384Sha384
            || report.SignatureR.Span[48..].IndexOfAnyExcept((byte)0) >= 0
            || report.SignatureS.Span[48..].IndexOfAnyExcept((byte)0) >= 0
            || report.SignatureReserved.Span.IndexOfAnyExcept((byte)0) >= 0)
        {
            return false;
        }

        Span<byte> signature = stackalloc byte[96];
        report.SignatureR.Span[..48].CopyTo(signature);
        report.SignatureS.Span[..48].CopyTo(signature[48..]);
        signature[..48].Reverse();
        signature[48..].Reverse();
        try
        {
            using ECDsa? key = vek.Certificate.GetECDsaPublicKey();
            return key is not null && key.KeySize == 384
                && key.VerifyData(report.SignedRegion.Span, signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static void CheckValidity(AmdCertificate certificate, string what, DateTimeOffset at, List<VerificationProblem> errors)
    {
        if (at < certificate.NotBefore)
        {
            errors.Add(new(VerificationCodes.CertificateExpired, $"{what} is not valid before {certificate.NotBefore:O}; the instant is {at.ToUniversalTime():O}"));
        }
        else if (at > certificate.NotAfter)
        {
            errors.Add(new(VerificationCodes.CertificateExpired, $"{what} expired at {certificate.NotAfter:O}; the instant is {at.ToUniversalTime():O}"));
        }
    }

    private static void CheckTcb(SevSnpReport report, AmdCertificate vek, SevSnpProduct product, List<VerificationProblem> errors)
    {
        SevSnpTcbVersion reported = Tcb(report.ReportedTcb, product);
        List<(string Name, string Oid, int Reported)> components =
        [
            ("boot loader", AmdCertificate.BootLoaderSplOid, reported.BootLoader),
            ("TEE", AmdCertificate.TeeSplOid, reported.Tee),
            ("SNP", AmdCertificate.SnpSplOid, reported.Snp),
            ("microcode", AmdCertificate.MicrocodeSplOid, reported.Microcode),
        ];
        if (reported.Fmc is { } fmc)
        {
            components.Add(("FMC", AmdCertificate.FmcSplOid, fmc));
        }

        foreach ((string name, string oid, int value) in components)
        {
            int? certified = vek.IntegerExtension(oid);
            if (certified is null)
            {
                errors.Add(new(VerificationCodes.CollateralInvalid, $"the endorsement key certificate lacks the {name} SPL extension ({oid})"));
            }
            else if (certified.Value != value)
            {
                errors.Add(new(VerificationCodes.TcbMismatch,
                    $"REPORTED_TCB {name} SVN is {value}, but the endorsement key certifies {certified.Value}"));
            }
        }
    }

    private static void CheckHardwareId(SevSnpReport report, AmdCertificate vek, List<VerificationProblem> errors)
    {
        byte[]? hardwareId = vek.HardwareId();
        if (hardwareId is null)
        {
            errors.Add(new(VerificationCodes.CollateralInvalid, $"the VCEK lacks a well-formed hwID extension ({AmdCertificate.HwIdOid})"));
        }
        else if (!report.ChipId.Span[..hardwareId.Length].SequenceEqual(hardwareId))
        {
            errors.Add(new(VerificationCodes.CollateralMismatch,
                $"the VCEK is for chip {Convert.ToHexStringLower(hardwareId)}, not the report's CHIP_ID {Convert.ToHexStringLower(report.ChipId.Span)}"));
        }
    }

    private static SevSnpTcbVersion Tcb(ulong raw, SevSnpProduct product) =>
        new SevSnpTcbVersion(raw, 0, 0, 0, 0, null).As(product);

    private static Dictionary<string, string> Claims(SevSnpReport report, SevSnpProduct product, AmdCertificate? vek)
    {
        Dictionary<string, string> claims = new(StringComparer.Ordinal)
        {
            ["version"] = Decimal(report.Version),
            ["guest_svn"] = Decimal(report.GuestSvn),
            ["policy"] = "0x" + report.Policy.Raw.ToString("x", CultureInfo.InvariantCulture),
            ["policy_abi_minor"] = Decimal(report.Policy.AbiMinor),
            ["policy_abi_major"] = Decimal(report.Policy.AbiMajor),
            ["policy_smt_allowed"] = Bool(report.Policy.SmtAllowed),
            ["policy_migrate_ma"] = Bool(report.Policy.MigrateMa),
            ["policy_debug_allowed"] = Bool(report.Policy.DebugAllowed),
            ["policy_single_socket"] = Bool(report.Policy.SingleSocket),
            ["policy_cxl_allowed"] = Bool(report.Policy.CxlAllowed),
            ["policy_mem_aes_256_xts"] = Bool(report.Policy.MemAes256Xts),
            ["policy_rapl_disabled"] = Bool(report.Policy.RaplDisabled),
            ["policy_ciphertext_hiding"] = Bool(report.Policy.CiphertextHiding),
            ["policy_page_swap_disabled"] = Bool(report.Policy.PageSwapDisabled),
            ["family_id"] = Hex(report.FamilyId),
            ["image_id"] = Hex(report.ImageId),
            ["vmpl"] = Decimal(report.Vmpl),
            ["signature_algo"] = Decimal(report.SignatureAlgorithm),
            ["platform_info"] = "0x" + report.PlatformInfo.ToString("x", CultureInfo.InvariantCulture),
            ["author_key_en_flags"] = "0x" + report.Flags.ToString("x", CultureInfo.InvariantCulture),
            ["flags.author_key_en"] = Bool(report.AuthorKeyEnabled),
            ["flags.mask_chip_key"] = Bool(report.MaskChipKey),
            ["flags.signing_key"] = report.SigningKey switch
            {
                SevSnpReport.SigningKeyVcek => "vcek",
                SevSnpReport.SigningKeyVlek => "vlek",
                SevSnpReport.SigningKeyNone => "none",
                int other => Decimal((uint)other),
            },
            ["report_data"] = Hex(report.ReportData),
            ["measurement"] = Hex(report.Measurement),
            ["host_data"] = Hex(report.HostData),
            ["id_key_digest"] = Hex(report.IdKeyDigest),
            ["author_key_digest"] = Hex(report.AuthorKeyDigest),
            ["report_id"] = Hex(report.ReportId),
            ["report_id_ma"] = Hex(report.ReportIdMa),
            ["chip_id"] = Hex(report.ChipId),
            ["current_build"] = Decimal(report.CurrentBuild),
            ["current_minor"] = Decimal(report.CurrentMinor),
            ["current_major"] = Decimal(report.CurrentMajor),
            ["committed_build"] = Decimal(report.CommittedBuild),
            ["committed_minor"] = Decimal(report.CommittedMinor),
            ["committed_major"] = Decimal(report.CommittedMajor),
            ["signature.r"] = Hex(report.SignatureR),
            ["signature.s"] = Hex(report.SignatureS),
            ["product"] = product.ToString(),
        };
        AddTcb(claims, "current_tcb", Tcb(report.CurrentTcb, product));
        AddTcb(claims, "reported_tcb", Tcb(report.ReportedTcb, product));
        AddTcb(claims, "committed_tcb", Tcb(report.CommittedTcb, product));
        AddTcb(claims, "launch_tcb", Tcb(report.LaunchTcb, product));
        if (report.CpuidFamily is { } family)
        {
            claims["cpuid_fam_id"] = Decimal(family);
            claims["cpuid_mod_id"] = Decimal(report.CpuidModel ?? 0);
            claims["cpuid_step"] = Decimal(report.CpuidStepping ?? 0);
        }

        if (report.LaunchMitVector is { } launchMit)
        {
            claims["launch_mit_vector"] = "0x" + launchMit.ToString("x", CultureInfo.InvariantCulture);
            claims["current_mit_vector"] = "0x" + (report.CurrentMitVector ?? 0).ToString("x", CultureInfo.InvariantCulture);
        }

        if (vek is not null)
        {
            claims["vek.kind"] = vek.IsVlek ? "vlek" : "vcek";
            claims["vek.subject"] = vek.Certificate.Subject;
            claims["vek.issuer"] = vek.Certificate.Issuer;
            claims["vek.not_before"] = vek.NotBefore.ToString("O", CultureInfo.InvariantCulture);
            claims["vek.not_after"] = vek.NotAfter.ToString("O", CultureInfo.InvariantCulture);
            claims["vek.sha256"] = vek.Sha256;
            if (vek.ProductName() is { } productName)
            {
                claims["vek.product_name"] = productName;
            }

            for (int spl = 1; spl <= 9; spl++)
            {
                if (vek.IntegerExtension("1.3.6.1.4.1.3704.1.3." + spl.ToString(CultureInfo.InvariantCulture)) is { } value)
                {
                    claims["vek.spl_" + spl.ToString(CultureInfo.InvariantCulture)] = Decimal((uint)value);
                }
            }

            if (vek.HardwareId() is { } hardwareId)
            {
                claims["vek.hwid"] = Convert.ToHexStringLower(hardwareId);
            }
        }

        return claims;
    }

    private static void AddTcb(Dictionary<string, string> claims, string name, SevSnpTcbVersion tcb)
    {
        claims[name + ".raw"] = tcb.Raw.ToString(CultureInfo.InvariantCulture);
        claims[name + ".hex"] = tcb.Hex;
        claims[name + ".bootloader"] = Decimal(tcb.BootLoader);
        claims[name + ".tee"] = Decimal(tcb.Tee);
        claims[name + ".snp"] = Decimal(tcb.Snp);
        claims[name + ".microcode"] = Decimal(tcb.Microcode);
        if (tcb.Fmc is { } fmc)
        {
            claims[name + ".fmc"] = Decimal(fmc);
        }
    }

    private static HardwareIdentity Identity(SevSnpReport report, SevSnpProduct product, AmdCertificate? vek)
    {
        SevSnpTcbVersion tcb = Tcb(report.ReportedTcb, product);
        ReadOnlyMemory<byte> signerDigest = report.AuthorKeyEnabled ? report.AuthorKeyDigest : report.IdKeyDigest;
        string? signer = signerDigest.Span.IndexOfAnyExcept((byte)0) >= 0 ? Hex(signerDigest) : null;
        Dictionary<string, long> svns = new(StringComparer.Ordinal)
        {
            ["guest_svn"] = report.GuestSvn,
            ["bootloader_svn"] = tcb.BootLoader,
            ["tee_svn"] = tcb.Tee,
            ["snp_svn"] = tcb.Snp,
            ["microcode_svn"] = tcb.Microcode,
        };
        if (tcb.Fmc is { } fmc)
        {
            svns["fmc_svn"] = fmc;
        }

        string platformId = vek is { IsVlek: true }
            ? "sev-snp-vlek:" + vek.Sha256
            : vek is null && report.SigningKey != SevSnpReport.SigningKeyVcek
                ? "sev-snp-vlek:unknown"
                : "sev-snp:" + Hex(report.ChipId);
        Dictionary<string, object> tokenClaims = new(StringComparer.Ordinal)
        {
            ["x-ms-attestation-type"] = AttestationType,
            ["x-ms-sevsnpvm-launchmeasurement"] = Hex(report.Measurement),
            ["x-ms-sevsnpvm-hostdata"] = Hex(report.HostData),
            ["x-ms-sevsnpvm-is-debuggable"] = report.Policy.DebugAllowed,
            ["x-ms-sevsnpvm-guestsvn"] = (long)report.GuestSvn,
            ["x-ms-sevsnpvm-idkeydigest"] = Hex(report.IdKeyDigest),
            ["x-ms-sevsnpvm-authorkeydigest"] = Hex(report.AuthorKeyDigest),
            ["x-ms-sevsnpvm-reportdata"] = Hex(report.ReportData),
            ["x-ms-sevsnpvm-familyId"] = Hex(report.FamilyId),
            ["x-ms-sevsnpvm-imageId"] = Hex(report.ImageId),
            ["x-ms-sevsnpvm-vmpl"] = (long)report.Vmpl,
            ["x-ms-sevsnpvm-bootloader-svn"] = (long)tcb.BootLoader,
            ["x-ms-sevsnpvm-tee-svn"] = (long)tcb.Tee,
            ["x-ms-sevsnpvm-snpfw-svn"] = (long)tcb.Snp,
            ["x-ms-sevsnpvm-microcode-svn"] = (long)tcb.Microcode,
            ["x-ms-sevsnpvm-reportid"] = Hex(report.ReportId),
        };
        return new HardwareIdentity(
            report.Policy.DebugAllowed,
            new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["measurement"] = Hex(report.Measurement),
                ["host_data"] = Hex(report.HostData),
            },
            signer,
            svns,
            report.ReportData,
            platformId,
            tokenClaims);
    }

    private static string Hex(ReadOnlyMemory<byte> bytes) => Convert.ToHexStringLower(bytes.Span);

    private static string Decimal(uint value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Bool(bool value) => value ? "true" : "false";
}
