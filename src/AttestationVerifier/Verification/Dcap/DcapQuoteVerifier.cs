using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.Dcap;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.Dcap;

namespace Enclave.AttestationVerifier.Verification.Dcap;

/// <summary>
/// The DCAP verification shared by SGX and TDX quotes, at an explicit instant:
/// quote signature by the attestation key; QE report signature by the PCK key; QE report data =
/// SHA-256(attestation key || QE auth data) || 32 zero bytes; PCK chain to the pinned Intel SGX Root CA with
/// every certificate valid at the instant; the root CA CRL and the PCK CRL of the PCK's issuing CA (signature,
/// thisUpdate/nextUpdate, revocation of the PCK and the intermediate); TCB info and QE identity signatures
/// over their exact bytes by the TCB signing certificate (chained to the root, not revoked), their
/// issueDate/nextUpdate, ids (SGX/QE or TDX/TD_QE), FMSPC and PCE-ID; QE identity match; TCB level matching.
/// Revocation is always checked; a missing CRL is reported as <see cref="VerificationCodes.CrlInvalid"/>.
/// </summary>
internal sealed class DcapQuoteVerifier
{
    private const int MaxCachedChains = 256;
    private const int ClaimsCapacity = 128;
    private const int MaxCachedRequests = 64;

    // Parsed collateral, kept per endorsement set (and the objects collected from it) so a warm verification
    // parses nothing; every time check is still made at each call's instant.
    private static readonly ConditionalWeakTable<EndorsementSet, ConcurrentDictionary<(IDcapCollateralSource, DcapCollateralRequest), DcapCollateral>> s_collateral = new();
    private static readonly ConditionalWeakTable<DcapCollateral, ParsedCrls> s_crls = new();
    private static readonly ConditionalWeakTable<SignedCollateral, ParsedBody> s_bodies = new();
    private static readonly ConditionalWeakTable<X509Certificate2, ParsedPck> s_pckExtensions = new();
    private static readonly ConcurrentDictionary<byte[], List<X509Certificate2>> s_quoteChains = new(ByteContent.Comparer);

    private readonly bool _tdx;
    private readonly IntelPki _pki;
    private readonly IDcapCollateralSource _collateral;

    public DcapQuoteVerifier(bool tdx, X509Certificate2 root, IDcapCollateralSource collateral)
    {
        _tdx = tdx;
        _pki = new IntelPki(root);
        _collateral = collateral;
    }

    private string Kind => _tdx ? "tdx" : "sgx";

    public HardwareVerificationReport Verify(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(endorsements);
        DcapQuote quote;
        try
        {
            quote = DcapQuote.Parse(evidence.Span);
        }
        catch (EvidenceFormatException ex)
        {
            return HardwareVerificationReport.Unusable(Kind, ex.Code == EvidenceFormatError.UnsupportedVersion ? VerificationCodes.Unsupported : VerificationCodes.Malformed, ex.Message);
        }

        if (quote.IsTdx != _tdx)
        {
            return HardwareVerificationReport.Unusable(Kind, VerificationCodes.Unsupported, _tdx ? "the quote is an SGX quote, not a TDX quote" : "the quote is a TDX quote, not an SGX quote");
        }

        var state = new State(quote, at);
        try
        {
            VerifyCore(state, endorsements);
        }
        catch (CryptographicException ex)
        {
            state.Fail(VerificationCodes.ChainInvalid, $"a certificate is not well-formed: {ex.Message}");
        }

        DcapClaims.Add(state.Claims, quote, state.Pck, state.PckChain);
        if (state.Status is not null)
        {
            state.Claims["tcb_status"] = state.Status;
            state.Claims["status"] = state.Status;
        }

        state.Claims["advisory_ids"] = string.Join(',', state.Advisories);
        for (int i = 0; i < state.Advisories.Count; i++)
        {
            state.Claims[$"advisory_ids.{i}"] = state.Advisories[i];
        }

        return new HardwareVerificationReport(
            Kind,
            state.Errors.Count == 0,
            state.Status,
            state.Claims,
            state.Errors,
            DcapClaims.Identity(quote, state.Pck, state.Status));
    }

    /// <summary>The signature checks a warm verification performs per quote: the quote by its attestation key and
    /// the QE report by the PCK key (chains, CRLs and collateral signatures are remembered once verified).</summary>
    /// <exception cref="InvalidOperationException">The quote does not parse or names no PCK certificate.</exception>
    public Func<bool> CreateSignatureWorkload(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements)
    {
        DcapQuote quote = DcapQuote.Parse(evidence.Span);
        List<X509Certificate2> quoteCertificates = quote.CertificationDataType == DcapQuote.CertificationDataPckChain
            ? QuoteChain(quote.CertificationData)
            : [];
        DcapCollateral collateral = Collateral(endorsements, new DcapCollateralRequest(_tdx, null));
        X509Certificate2 pck = FindPck(quote, quoteCertificates, collateral) ?? throw new InvalidOperationException("no PCK certificate for the quote");
        return () => IntelPki.VerifyWithRawKey(quote.AttestationKey, quote.SignedRegion, quote.Signature)
            && IntelPki.VerifyRaw(pck, quote.QeReport.Raw, quote.QeReportSignature);
    }

    private void VerifyCore(State s, EndorsementSet endorsements)
    {
        DcapQuote quote = s.Quote;
        if (!IntelPki.VerifyWithRawKey(quote.AttestationKey, quote.SignedRegion, quote.Signature))
        {
            s.Fail(VerificationCodes.EvidenceSignatureInvalid, "the quote signature does not verify with the attestation key");
        }

        byte[] binding = SHA256.HashData([.. quote.AttestationKey, .. quote.QeAuthData]);
        if (!CryptographicOperations.FixedTimeEquals(binding, quote.QeReport.ReportData.AsSpan(0, 32)) || quote.QeReport.ReportData.AsSpan(32).ContainsAnyExcept((byte)0))
        {
            s.Fail(VerificationCodes.QuotingEnclaveInvalid, "the QE report data is not SHA-256(attestation key || QE auth data) followed by 32 zero bytes");
        }

        List<X509Certificate2> quoteCertificates = [];
        if (quote.CertificationDataType == DcapQuote.CertificationDataPckChain)
        {
            try
            {
                quoteCertificates = QuoteChain(quote.CertificationData);
            }
            catch (Exception ex) when (ex is CryptographicException or FormatException)
            {
                s.Fail(VerificationCodes.ChainInvalid, $"the PCK certificate chain in the quote does not decode: {ex.Message}");
                return;
            }

            if (quoteCertificates.Count == 0)
            {
                s.Fail(VerificationCodes.ChainInvalid, "the quote's PCK certificate chain holds no certificate");
                return;
            }
        }
        else if (quote.CertificationDataType is not (1 or 2 or 3 or 4))
        {
            s.Fail(VerificationCodes.Unsupported, $"certification data type {quote.CertificationDataType} does not identify a PCK certificate");
            return;
        }

        // A quote carrying its PCK chain names its FMSPC before collateral is looked up; otherwise the PCK
        // certificate itself comes from the collateral and the lookup is repeated once the FMSPC is known.
        DcapCollateral? collateral = quote.CertificationDataType == DcapQuote.CertificationDataPckChain
            ? null
            : Collateral(endorsements, new DcapCollateralRequest(_tdx, null));
        X509Certificate2? pck = FindPck(quote, quoteCertificates, collateral);
        if (pck is null)
        {
            s.Fail(quote.CertificationDataType == DcapQuote.CertificationDataPckChain ? VerificationCodes.ChainInvalid : VerificationCodes.CollateralMissing,
                "no PCK certificate (with the Intel SGX extension) for the quote");
            return;
        }

        try
        {
            s.Pck = s_pckExtensions.GetValue(pck, c => new ParsedPck(PckExtensions.FromCertificate(c))).Value;
        }
        catch (EvidenceFormatException ex)
        {
            s.Fail(VerificationCodes.ChainInvalid, $"the PCK certificate's SGX extension is malformed: {ex.Message}");
            return;
        }

        if (!IntelPki.VerifyRaw(pck, quote.QeReport.Raw, quote.QeReportSignature))
        {
            s.Fail(VerificationCodes.QuotingEnclaveInvalid, "the QE report signature does not verify with the PCK certificate's key");
        }

        if (collateral is null || (collateral.TcbInfo is not null && s.Pck is not null))
        {
            collateral = Collateral(endorsements, new DcapCollateralRequest(_tdx, s.Pck is null ? null : Convert.ToHexStringLower(s.Pck.Fmspc)));
        }

        foreach (string problem in collateral.Problems)
        {
            s.Fail(VerificationCodes.CollateralInvalid, problem);
        }

        List<X509Certificate2> pool = [.. quoteCertificates, .. collateral.Certificates];
        ChainOutcome pckChain = _pki.Build(pck, pool, s.At, "PCK certificate chain");
        if (pckChain.Chain is null)
        {
            s.Fail(pckChain.Code!, pckChain.Message!);
        }

        s.PckChain = pckChain.Chain;
        List<DcapCrl> crls = ParseCrls(s, collateral);

        DcapCrl? rootCrl = CheckRootCrl(s, crls);
        if (pckChain.Chain is { Count: >= 3 } chain)
        {
            CheckPckCrl(s, crls, chain, rootCrl);
        }

        TcbInfo? tcbInfo = null;
        EnclaveIdentity? qeIdentity = null;
        if (collateral.TcbInfo is null)
        {
            s.Fail(VerificationCodes.CollateralMissing, "no TCB info was supplied");
        }
        else if (CheckSigned(s, collateral.TcbInfo, collateral, pool, rootCrl, "TCB info"))
        {
            tcbInfo = Parse(s, collateral.TcbInfo, static body => TcbInfo.Parse(body));
        }

        if (collateral.QeIdentity is null)
        {
            s.Fail(VerificationCodes.CollateralMissing, "no QE identity was supplied");
        }
        else if (CheckSigned(s, collateral.QeIdentity, collateral, pool, rootCrl, "QE identity"))
        {
            qeIdentity = Parse(s, collateral.QeIdentity, static body => EnclaveIdentity.Parse(body));
        }

        Evaluate(s, tcbInfo, qeIdentity);
    }

    /// <summary>PEM CERTIFICATE blocks separated by whitespace only; anything else makes the chain unusable.</summary>
    private static List<X509Certificate2> StrictPemChain(string pem)
    {
        List<X509Certificate2> result = [];
        ReadOnlySpan<char> text = pem;
        while (PemEncoding.TryFind(text, out PemFields fields))
        {
            if (!text[..fields.Location.Start].IsWhiteSpace() || !text[fields.Label].SequenceEqual("CERTIFICATE"))
            {
                throw new FormatException("the certification data holds text that is not a PEM CERTIFICATE block");
            }

            result.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text[fields.Base64Data].ToString())));
            text = text[fields.Location.End..];
        }

        return text.IsWhiteSpace() ? result : throw new FormatException("the certification data ends with text that is not a PEM CERTIFICATE block");
    }

    private static X509Certificate2? FindPck(DcapQuote quote, List<X509Certificate2> quoteCertificates, DcapCollateral? collateral)
    {
        static bool HasSgxExtension(X509Certificate2 c) => c.Extensions.Any(e => string.Equals(e.Oid?.Value, PckExtensions.ExtensionOid, StringComparison.Ordinal));

        if (quote.CertificationDataType == DcapQuote.CertificationDataPckChain)
        {
            return quoteCertificates.FirstOrDefault(HasSgxExtension);
        }

        List<X509Certificate2> offered = collateral?.Certificates.Where(HasSgxExtension).ToList() ?? [];
        if (quote.CertificationDataType == DcapQuote.CertificationDataPpidCleartext)
        {
            byte[] ppid = quote.CertificationData[..16];
            return offered.FirstOrDefault(c =>
            {
                try
                {
                    return PckExtensions.FromCertificate(c)?.Ppid.AsSpan().SequenceEqual(ppid) == true;
                }
                catch (EvidenceFormatException)
                {
                    return false;
                }
            });
        }

        return offered.Count == 1 ? offered[0] : null;
    }

    // Parsed once per collateral; thisUpdate/nextUpdate are checked at each call's instant (CheckCrl).
    private static List<DcapCrl> ParseCrls(State s, DcapCollateral collateral)
    {
        ParsedCrls parsed = s_crls.GetValue(collateral, c =>
        {
            List<DcapCrl> crls = [];
            List<string> problems = [];
            foreach (byte[] der in c.Crls)
            {
                try
                {
                    crls.Add(DcapCrl.Parse(der));
                }
                catch (DcapCollateralException ex)
                {
                    problems.Add(ex.Message);
                }
            }

            return new ParsedCrls(crls, problems);
        });
        foreach (string problem in parsed.Problems)
        {
            s.Fail(VerificationCodes.CrlInvalid, problem);
        }

        return parsed.Crls;
    }

    private DcapCrl? CheckRootCrl(State s, List<DcapCrl> crls)
    {
        List<DcapCrl> candidates = crls.Where(c => c.Issuer.RawData.AsSpan().SequenceEqual(_pki.Root.SubjectName.RawData)).ToList();
        if (candidates.Count == 0)
        {
            s.Fail(VerificationCodes.CrlInvalid, "no Intel SGX Root CA CRL was supplied");
            return null;
        }

        string? problem = null;
        foreach (DcapCrl crl in candidates)
        {
            problem = IntelPki.CheckCrl(crl, _pki.Root, s.At, "the root CA CRL");
            if (problem is null)
            {
                return crl;
            }
        }

        s.Fail(VerificationCodes.CrlInvalid, problem!);
        return null;
    }

    private static void CheckPckCrl(State s, List<DcapCrl> crls, IReadOnlyList<X509Certificate2> chain, DcapCrl? rootCrl)
    {
        X509Certificate2 pck = chain[0];
        X509Certificate2 intermediate = chain[1];
        if (rootCrl is not null)
        {
            foreach (X509Certificate2 ca in chain.Skip(1).Take(chain.Count - 2))
            {
                if (rootCrl.Revokes(ca))
                {
                    s.Fail(VerificationCodes.CertificateRevoked, $"'{ca.Subject}' (serial {ca.SerialNumber}) is revoked by the root CA CRL");
                }
            }
        }

        List<DcapCrl> candidates = crls.Where(c => c.Issuer.RawData.AsSpan().SequenceEqual(intermediate.SubjectName.RawData)).ToList();
        if (candidates.Count == 0)
        {
            string others = string.Join(", ", crls.Select(c => c.Issuer.Name));
            s.Fail(VerificationCodes.CrlInvalid, $"no CRL of the PCK's issuer '{intermediate.Subject}' was supplied (CRLs offered: {others})");
            return;
        }

        string? problem = null;
        foreach (DcapCrl crl in candidates)
        {
            problem = IntelPki.CheckCrl(crl, intermediate, s.At, "the PCK CRL");
            if (problem is null)
            {
                if (crl.Revokes(pck))
                {
                    s.Fail(VerificationCodes.CertificateRevoked, $"the PCK certificate (serial {pck.SerialNumber}) is revoked by the PCK CRL");
                }

                return;
            }
        }

        s.Fail(VerificationCodes.CrlInvalid, problem!);
    }

    private bool CheckSigned(State s, SignedCollateral doc, DcapCollateral collateral, List<X509Certificate2> pool, DcapCrl? rootCrl, string what)
    {
        IEnumerable<X509Certificate2> candidates = doc.IssuerChain.Count > 0
            ? doc.IssuerChain.Take(1)
            : collateral.Certificates.Where(c => !IsCa(c) && !c.Extensions.Any(e => string.Equals(e.Oid?.Value, PckExtensions.ExtensionOid, StringComparison.Ordinal)));
        X509Certificate2? signer = candidates.FirstOrDefault(c => IntelPki.VerifyRawCollateral(c, doc));
        if (signer is null)
        {
            s.Fail(VerificationCodes.CollateralInvalid, $"the {what} signature does not verify with the TCB signing certificate ({doc.Source})");
            return false;
        }

        ChainOutcome chain = _pki.Build(signer, [.. doc.IssuerChain, .. pool], s.At, $"{what} signing chain");
        if (chain.Chain is null)
        {
            s.Fail(chain.Code!, chain.Message!);
            return false;
        }

        if (rootCrl is not null)
        {
            foreach (X509Certificate2 certificate in chain.Chain.Take(chain.Chain.Count - 1))
            {
                if (rootCrl.Revokes(certificate))
                {
                    s.Fail(VerificationCodes.CertificateRevoked, $"the {what} signing certificate '{certificate.Subject}' is revoked by the root CA CRL");
                    return false;
                }
            }
        }

        return true;
    }

    // Parsed once per collateral document (the same SignedCollateral while the endorsement set is reused); the
    // document's issueDate/nextUpdate are still checked at each call's instant.
    private static T? Parse<T>(State s, SignedCollateral doc, Func<byte[], T> parse)
        where T : class
    {
        ParsedBody parsed = s_bodies.GetValue(doc, d =>
        {
            try
            {
                return new ParsedBody(parse(d.Body), null);
            }
            catch (DcapCollateralException ex)
            {
                return new ParsedBody(null, ex.Message);
            }
        });
        if (parsed.Problem is not null)
        {
            s.Fail(VerificationCodes.CollateralInvalid, parsed.Problem);
        }

        return parsed.Value as T;
    }

    /// <summary>The collateral for a request, collected once per endorsement set and request.</summary>
    /// <remarks>The request names the FMSPC of a PCK certificate not yet verified, so the requests kept per set are
    /// bounded (emptied when full) lest quotes with made-up FMSPCs grow them.</remarks>
    private DcapCollateral Collateral(EndorsementSet endorsements, DcapCollateralRequest request)
    {
        ConcurrentDictionary<(IDcapCollateralSource, DcapCollateralRequest), DcapCollateral> requests =
            s_collateral.GetValue(endorsements, static _ => new());
        if (requests.TryGetValue((_collateral, request), out DcapCollateral? known))
        {
            return known;
        }

        if (requests.Count >= MaxCachedRequests)
        {
            requests.Clear();
        }

        return requests.GetOrAdd((_collateral, request), key => key.Item1.Get(endorsements, key.Item2));
    }

    /// <summary>The quote's PEM PCK chain, decoded once per exact certification data (compared byte for byte), so
    /// the same certificate objects, and with them the paths built from them, serve every quote of a platform.</summary>
    private static List<X509Certificate2> QuoteChain(byte[] certificationData)
    {
        if (s_quoteChains.TryGetValue(certificationData, out List<X509Certificate2>? chain))
        {
            return chain;
        }

        chain = StrictPemChain(Encoding.ASCII.GetString(certificationData).TrimEnd('\0'));
        if (s_quoteChains.Count >= MaxCachedChains)
        {
            s_quoteChains.Clear();
        }

        s_quoteChains.TryAdd([.. certificationData], chain);
        return chain;
    }

    private sealed record ParsedBody(object? Value, string? Problem);

    /// <summary>Byte arrays compared by content (the full bytes decide equality; the hash only spreads them).</summary>
    private sealed class ByteContent : IEqualityComparer<byte[]>
    {
        public static ByteContent Comparer { get; } = new();

        public bool Equals(byte[]? x, byte[]? y) => x is not null && y is not null && x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] bytes)
        {
            HashCode hash = default;
            hash.AddBytes(bytes);
            return hash.ToHashCode();
        }
    }

    private sealed record ParsedPck(PckExtensions? Value);

    private sealed record ParsedCrls(List<DcapCrl> Crls, List<string> Problems);

    private void Evaluate(State s, TcbInfo? tcbInfo, EnclaveIdentity? qeIdentity)
    {
        DcapQuote quote = s.Quote;
        string wantedTcb = _tdx ? "TDX" : "SGX";
        string wantedQe = _tdx ? "TD_QE" : "QE";
        bool usable = true;
        if (tcbInfo is not null)
        {
            s.Claims["collateral.tcb_info.id"] = tcbInfo.Id;
            s.Claims["collateral.tcb_info.version"] = tcbInfo.Version.ToString(CultureInfo.InvariantCulture);
            s.Claims["collateral.tcb_info.tcb_evaluation_data_number"] = tcbInfo.TcbEvaluationDataNumber.ToString(CultureInfo.InvariantCulture);
            if (s.At < tcbInfo.IssueDate || s.At > tcbInfo.NextUpdate)
            {
                s.Fail(VerificationCodes.CollateralExpired, $"the TCB info is valid {tcbInfo.IssueDate:O}..{tcbInfo.NextUpdate:O}, not at {s.At:O}");
            }

            if (!string.Equals(tcbInfo.Id, wantedTcb, StringComparison.Ordinal))
            {
                s.Fail(VerificationCodes.CollateralMismatch, $"the TCB info is for {tcbInfo.Id}, not {wantedTcb}");
                usable = false;
            }
            else if (s.Pck is not null && (!tcbInfo.Fmspc.AsSpan().SequenceEqual(s.Pck.Fmspc) || !tcbInfo.PceId.AsSpan().SequenceEqual(s.Pck.PceId)))
            {
                s.Fail(VerificationCodes.CollateralMismatch, $"the TCB info is for FMSPC {Convert.ToHexStringLower(tcbInfo.Fmspc)} PCE-ID {Convert.ToHexStringLower(tcbInfo.PceId)}, the PCK certifies {Convert.ToHexStringLower(s.Pck.Fmspc)} {Convert.ToHexStringLower(s.Pck.PceId)}");
                usable = false;
            }
        }

        TcbEvaluation? qe = null;
        if (qeIdentity is not null)
        {
            s.Claims["collateral.qe_identity.id"] = qeIdentity.Id;
            if (s.At < qeIdentity.IssueDate || s.At > qeIdentity.NextUpdate)
            {
                s.Fail(VerificationCodes.CollateralExpired, $"the QE identity is valid {qeIdentity.IssueDate:O}..{qeIdentity.NextUpdate:O}, not at {s.At:O}");
            }

            if (!string.Equals(qeIdentity.Id, wantedQe, StringComparison.Ordinal))
            {
                s.Fail(VerificationCodes.CollateralMismatch, $"the QE identity is for {qeIdentity.Id}, not {wantedQe}");
            }
            else if (QeMismatch(qeIdentity, quote.QeReport) is { } mismatch)
            {
                s.Fail(VerificationCodes.QuotingEnclaveInvalid, mismatch);
            }
            else
            {
                qe = TcbEvaluator.Qe(qeIdentity, quote.QeReport);
                if (qe.Problem is not null)
                {
                    s.Fail(VerificationCodes.TcbLevelNotFound, qe.Problem);
                    qe = null;
                }
                else
                {
                    s.Claims["qe_tcb_status"] = qe.Status!;
                }
            }
        }

        if (tcbInfo is null || !usable || s.Pck is null)
        {
            return;
        }

        TcbEvaluation platform = TcbEvaluator.Platform(tcbInfo, s.Pck, quote.TdBody);
        if (platform.Problem is not null)
        {
            s.Fail(VerificationCodes.TcbLevelNotFound, platform.Problem);
            return;
        }

        s.Claims["platform_tcb_status"] = platform.Status!;
        if (platform.TcbDate is { } date)
        {
            s.Claims["platform_tcb_date"] = date.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }

        string status = platform.Status!;
        List<string> advisories = [.. platform.AdvisoryIds];
        if (quote.TdBody is not null)
        {
            TcbEvaluation module = TcbEvaluator.TdxModule(tcbInfo, quote.TdBody);
            if (module.Problem is not null)
            {
                s.Fail(VerificationCodes.TcbLevelNotFound, module.Problem);
                return;
            }

            s.Claims["tdx_module_tcb_status"] = module.Status!;
            status = TcbEvaluator.Converge(status, module.Status!);
            advisories.AddRange(module.AdvisoryIds);
        }

        if (qe is null)
        {
            return;
        }

        status = TcbEvaluator.Converge(status, qe.Status!);
        advisories.AddRange(qe.AdvisoryIds);
        s.Status = status;
        s.Advisories = advisories.Distinct(StringComparer.Ordinal).ToList();
        if (status == TcbStatus.Revoked)
        {
            s.Fail(VerificationCodes.TcbRevoked, "the platform's TCB level is Revoked");
        }
    }

    private static string? QeMismatch(EnclaveIdentity identity, SgxReportBody qe)
    {
        if (!identity.MrSigner.AsSpan().SequenceEqual(qe.MrSigner))
        {
            return $"the QE's MRSIGNER {Convert.ToHexStringLower(qe.MrSigner)} is not the QE identity's {Convert.ToHexStringLower(identity.MrSigner)}";
        }

        if (identity.IsvProdId != qe.IsvProdId)
        {
            return $"the QE's ISVPRODID {qe.IsvProdId} is not the QE identity's {identity.IsvProdId}";
        }

        if ((qe.MiscSelect & identity.MiscSelectMask) != (identity.MiscSelect & identity.MiscSelectMask))
        {
            return "the QE's MISCSELECT does not match the QE identity under its mask";
        }

        for (int i = 0; i < 16; i++)
        {
            if ((qe.Attributes[i] & identity.AttributesMask[i]) != (identity.Attributes[i] & identity.AttributesMask[i]))
            {
                return "the QE's ATTRIBUTES do not match the QE identity under its mask";
            }
        }

        return null;
    }

    private static bool IsCa(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is { CertificateAuthority: true };

    private sealed class State(DcapQuote quote, DateTimeOffset at)
    {
        public DcapQuote Quote { get; } = quote;

        public DateTimeOffset At { get; } = at;

        // Sized for the claims of a TDX quote, so that filling it never regrows it.
        public Dictionary<string, string> Claims { get; } = new(ClaimsCapacity, StringComparer.Ordinal);

        public List<VerificationProblem> Errors { get; } = [];

        public PckExtensions? Pck { get; set; }

        public IReadOnlyList<X509Certificate2>? PckChain { get; set; }

        public string? Status { get; set; }

        public List<string> Advisories { get; set; } = [];

        public void Fail(string code, string message) => Errors.Add(new VerificationProblem(code, message));
    }
}
