using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.SevSnp;
using Enclave.AttestationVerifier.Evidence.SevSnp;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.SevSnp;
using static Enclave.AttestationVerifier.Verification.VerificationCodes;

namespace Enclave.AttestationVerifier.Tests.SevSnp;

/// <summary>
/// The negative conformance suite on the genuine AMD samples: each row changes one thing (a report byte, a
/// certificate, the instant, the length) and names the exact set of error codes the verifier must report.
/// </summary>
public sealed class SevSnpNegativeTests
{
    private const string Vcek = SevSnpVectors.Vcek;
    private const string Vlek = SevSnpVectors.VlekV3;
    private const string Debug = SevSnpVectors.DebugPolicy;

    private static readonly Dictionary<string, Case> s_cases = BuildCases();

    public static TheoryData<string> CaseNames => [.. s_cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Case_fails_with_exactly_the_expected_codes(string name)
    {
        Case c = s_cases[name];
        byte[] report = SevSnpVectors.Report(c.Sample);
        c.Mutate?.Invoke(report);
        byte[] evidence = c.Resize is { } length ? Resized(report, length) : report;
        EndorsementSet endorsements = c.Endorsements?.Invoke() ?? SevSnpVectors.Endorsements(c.Sample);
        DateTimeOffset at = c.At ?? SevSnpVectors.VerificationTime(c.Sample);
        SevSnpVerifier verifier = c.Roots is null ? new SevSnpVerifier() : new SevSnpVerifier(c.Roots());

        HardwareVerificationReport result = verifier.Verify(evidence, endorsements, at);

        Assert.False(result.Verified);
        Assert.Null(result.TcbStatus);
        Assert.Equal(c.Codes.Order(StringComparer.Ordinal), result.Errors.Select(e => e.Code).Distinct().Order(StringComparer.Ordinal));
        Assert.All(result.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
        if (!c.Codes.Contains(Malformed))
        {
            Assert.NotNull(result.Identity);
        }
    }

    [Fact]
    public void Suite_has_at_least_sixty_cases() => Assert.True(s_cases.Count >= 60, $"{s_cases.Count} cases");

    [Theory]
    [InlineData(Vcek, "2023-04-03T19:23:43Z")]
    [InlineData(Vcek, "2030-04-03T19:23:43Z")]
    [InlineData(Vlek, "2024-12-10T22:14:21Z")]
    [InlineData(Vlek, "2025-12-10T22:14:21Z")]
    [InlineData(Debug, "2022-09-24T00:55:28Z")]
    public void Instants_on_the_validity_boundaries_verify(string sample, string instant)
    {
        HardwareVerificationReport result = new SevSnpVerifier().Verify(
            SevSnpVectors.Report(sample), SevSnpVectors.Endorsements(sample), Instant(instant));

        Assert.True(result.Verified, string.Join("; ", result.Errors));
    }

    [Fact]
    public void An_ark_in_the_endorsements_is_ignored_in_favour_of_the_embedded_one()
    {
        X509Certificate2 fakeArk = SevSnpTestPki.Impostor.Ark;
        EndorsementSet endorsements = Certificates(Vcek, "vcek.der", "ask_milan.pem").With([fakeArk]);

        HardwareVerificationReport result = new SevSnpVerifier().Verify(SevSnpVectors.Report(Vcek), endorsements, SevSnpVectors.VerificationTime(Vcek));

        Assert.True(result.Verified, string.Join("; ", result.Errors));
    }

    [Fact]
    public void Recognizes_reports_by_length_and_version()
    {
        SevSnpVerifier verifier = new();
        Assert.True(verifier.Recognizes(SevSnpVectors.Report(Vcek)));
        Assert.True(verifier.Recognizes(SevSnpVectors.Report(Vlek)));
        Assert.False(verifier.Recognizes(SevSnpVectors.Report(Vcek).AsSpan(0, 1183)));
        byte[] wrongVersion = SevSnpVectors.Report(Vcek);
        wrongVersion[0] = 9;
        Assert.False(verifier.Recognizes(wrongVersion));
        Assert.False(verifier.Recognizes(new byte[SevSnpReport.Length]));
    }

    private sealed record Case(
        string Sample,
        string[] Codes,
        Action<byte[]>? Mutate = null,
        Func<EndorsementSet>? Endorsements = null,
        DateTimeOffset? At = null,
        int? Resize = null,
        Func<IReadOnlyDictionary<SevSnpProduct, X509Certificate2>>? Roots = null);

    private static Dictionary<string, Case> BuildCases()
    {
        Dictionary<string, Case> cases = new(StringComparer.Ordinal);

        // A flipped byte in every field of the signed region of the VCEK sample (version 2).
        (int Offset, byte Xor, string[] Codes)[] vcekFlips =
        [
            (0x000, 0x01, [EvidenceSignatureInvalid]),  // VERSION 2 -> 3 (still parses)
            (0x004, 0x01, [EvidenceSignatureInvalid]),  // GUEST_SVN
            (0x008, 0x01, [EvidenceSignatureInvalid]),  // POLICY ABI minor
            (0x00A, 0x08, [EvidenceSignatureInvalid]),  // POLICY DEBUG bit 19
            (0x010, 0x01, [EvidenceSignatureInvalid]),  // FAMILY_ID
            (0x020, 0x01, [EvidenceSignatureInvalid]),  // IMAGE_ID
            (0x030, 0x01, [EvidenceSignatureInvalid]),  // VMPL
            (0x034, 0x01, [AlgorithmNotAllowed]),       // SIGNATURE_ALGO 1 -> 0
            (0x038, 0x01, [EvidenceSignatureInvalid]),  // CURRENT_TCB
            (0x040, 0x02, [EvidenceSignatureInvalid]),  // PLATFORM_INFO
            (0x048, 0x01, [EvidenceSignatureInvalid]),  // flags AUTHOR_KEY_EN
            (0x048, 0x02, [EvidenceSignatureInvalid]),  // flags MASK_CHIP_KEY
            (0x048, 0x04, [EvidenceSignatureInvalid, ChainInvalid]), // SIGNING_KEY VCEK -> VLEK
            (0x048, 0x1C, [ChainInvalid]),              // SIGNING_KEY -> 7 (none)
            (0x04C, 0x01, [EvidenceSignatureInvalid]),  // reserved
            (0x050, 0x01, [EvidenceSignatureInvalid]),  // REPORT_DATA first byte
            (0x08F, 0x01, [EvidenceSignatureInvalid]),  // REPORT_DATA last byte
            (0x090, 0x01, [EvidenceSignatureInvalid]),  // MEASUREMENT
            (0x0BF, 0x80, [EvidenceSignatureInvalid]),  // MEASUREMENT last byte
            (0x0C0, 0x01, [EvidenceSignatureInvalid]),  // HOST_DATA
            (0x0E0, 0x01, [EvidenceSignatureInvalid]),  // ID_KEY_DIGEST
            (0x110, 0x01, [EvidenceSignatureInvalid]),  // AUTHOR_KEY_DIGEST
            (0x140, 0x01, [EvidenceSignatureInvalid]),  // REPORT_ID
            (0x160, 0x01, [EvidenceSignatureInvalid]),  // REPORT_ID_MA
            (0x180, 0x01, [EvidenceSignatureInvalid, TcbMismatch]), // REPORTED_TCB boot loader
            (0x181, 0x01, [EvidenceSignatureInvalid, TcbMismatch]), // REPORTED_TCB TEE
            (0x182, 0x01, [EvidenceSignatureInvalid]),  // REPORTED_TCB reserved byte
            (0x186, 0x01, [EvidenceSignatureInvalid, TcbMismatch]), // REPORTED_TCB SNP
            (0x187, 0x01, [EvidenceSignatureInvalid, TcbMismatch]), // REPORTED_TCB microcode
            (0x188, 0x01, [EvidenceSignatureInvalid]),  // reserved (CPUID in version 3)
            (0x1A0, 0x01, [EvidenceSignatureInvalid, CollateralMismatch]), // CHIP_ID vs VCEK hwID
            (0x1DF, 0x01, [EvidenceSignatureInvalid, CollateralMismatch]), // CHIP_ID last byte
            (0x1E0, 0x01, [EvidenceSignatureInvalid]),  // COMMITTED_TCB
            (0x1E8, 0x01, [EvidenceSignatureInvalid]),  // CURRENT_BUILD
            (0x1EC, 0x01, [EvidenceSignatureInvalid]),  // COMMITTED_BUILD
            (0x1F0, 0x01, [EvidenceSignatureInvalid]),  // LAUNCH_TCB
            (0x1F8, 0x01, [EvidenceSignatureInvalid]),  // reserved (LAUNCH_MIT_VECTOR in version 5)
            (0x29F, 0x01, [EvidenceSignatureInvalid]),  // last signed byte
            (0x2A0, 0x01, [EvidenceSignatureInvalid]),  // SIGNATURE R low byte
            (0x2CF, 0x01, [EvidenceSignatureInvalid]),  // SIGNATURE R high byte
            (0x2D0, 0x01, [EvidenceSignatureInvalid]),  // SIGNATURE R zero padding
            (0x2E8, 0x01, [EvidenceSignatureInvalid]),  // SIGNATURE S low byte
            (0x317, 0x01, [EvidenceSignatureInvalid]),  // SIGNATURE S high byte
            (0x32F, 0x01, [EvidenceSignatureInvalid]),  // SIGNATURE S zero padding
            (0x330, 0x01, [EvidenceSignatureInvalid]),  // SIGNATURE reserved
            (0x49F, 0x01, [EvidenceSignatureInvalid]),  // last byte of the report
            (0x003, 0x80, [Malformed]),                 // VERSION out of range
        ];
        foreach ((int offset, byte xor, string[] codes) in vcekFlips)
        {
            cases[$"vcek-flip-{offset:x3}-xor-{xor:x2}-{SevSnpReport.FieldAt(offset)}"] = new(Vcek, codes, r => r[offset] ^= xor);
        }

        // Flips in the version-3 VLEK sample, including its CPUID fields.
        cases["vlek-flip-188-cpuid-family"] = new(Vlek, [EvidenceSignatureInvalid], r => r[0x188] ^= 0x01);
        cases["vlek-flip-189-cpuid-model-genoa"] = new(Vlek, [EvidenceSignatureInvalid, CollateralMismatch], r => r[0x189] ^= 0x10);
        cases["vlek-flip-18a-cpuid-stepping"] = new(Vlek, [EvidenceSignatureInvalid], r => r[0x18A] ^= 0x01);
        cases["vlek-flip-1a0-chip-id-not-checked-for-vlek"] = new(Vlek, [EvidenceSignatureInvalid], r => r[0x1A0] ^= 0x01);
        cases["vlek-flip-048-selector-vcek"] = new(Vlek, [EvidenceSignatureInvalid, ChainInvalid], r => r[0x48] ^= 0x04);
        cases["vlek-flip-2a0-signature"] = new(Vlek, [EvidenceSignatureInvalid], r => r[0x2A0] ^= 0x01);
        cases["debug-flip-00a-debug-bit-cleared"] = new(Debug, [EvidenceSignatureInvalid], r => r[0x0A] ^= 0x08);
        cases["debug-flip-2e8-signature"] = new(Debug, [EvidenceSignatureInvalid], r => r[0x2E8] ^= 0x01);

        // The negative mutations the vectors list.
        cases["vector-virtee-report-021-xor-80"] = new(Vcek, [EvidenceSignatureInvalid], r => r[21] ^= 0x80);
        cases["vector-virtee-vcek-der-040-xor-ff"] = new(Vcek, [ChainInvalid], Endorsements: () =>
        {
            byte[] vcek = SevSnpVectors.File_(Vcek, "vcek.der");
            vcek[40] ^= 0xFF;
            return EndorsementSet.FromFiles([("vcek.der", vcek), ("ask_ark", SevSnpVectors.File_(Vcek, "cert_chain_milan.pem"))]);
        });
        cases["vector-trustee-report-042-add-1"] = new(Vlek, [EvidenceSignatureInvalid], r => r[42]++);
        cases["vector-trustee-report-384-add-1"] = new(Vlek, [EvidenceSignatureInvalid, TcbMismatch], r => r[384]++);
        cases["vector-trustee-vlek-against-ask"] = new(Vlek, [ChainInvalid], Endorsements: () =>
            Certificates(Vlek, "vlek.der").With(AmdChain(Vlek, "ask_ark_asvk_milan.pem").Where(c => !c.Subject.Contains("SEV-VLEK-", StringComparison.Ordinal))));

        // Each certificate swapped for a wrong one, or missing.
        cases["swap-vcek-for-another-chips-vcek"] = new(Vcek, [EvidenceSignatureInvalid, TcbMismatch, CollateralMismatch], Endorsements: () =>
            Certificates(Debug, "vcek.der", "ask_ark_milan.pem"));
        cases["swap-vcek-for-vlek"] = new(Vcek, [EvidenceSignatureInvalid, ChainInvalid, TcbMismatch], Endorsements: () =>
            Certificates(Vlek, "vlek.der", "ask_ark_asvk_milan.pem"));
        cases["swap-vlek-for-vcek"] = new(Vlek, [EvidenceSignatureInvalid, ChainInvalid, TcbMismatch, CollateralMismatch], Endorsements: () =>
            Certificates(Vcek, "vcek.der").With(AmdChain(Vlek, "ask_ark_asvk_milan.pem")));
        cases["missing-vcek"] = new(Vcek, [CollateralMissing], Endorsements: () => Certificates(Vcek, "cert_chain_milan.pem"));
        cases["missing-vlek"] = new(Vlek, [CollateralMissing], Endorsements: () => Certificates(Vlek, "ask_ark_asvk_milan.pem"));
        cases["missing-ask"] = new(Vcek, [CollateralMissing], Endorsements: () => Certificates(Vcek, "vcek.der", "ark_milan.pem"));
        cases["swap-ask-for-asvk"] = new(Vcek, [ChainInvalid], Endorsements: () =>
            Certificates(Vcek, "vcek.der").With(AmdChain(Vlek, "ask_ark_asvk_milan.pem").Where(c => !c.Subject.Contains("CN=SEV-Milan", StringComparison.Ordinal))));
        cases["swap-ask-for-genoa-asvk-and-ark"] = new(Vcek, [ChainInvalid], Endorsements: () =>
            Certificates(Vcek, "vcek.der").With(GenoaAsvkAndArk()));
        cases["swap-ask-for-impostor-ask"] = new(Vcek, [ChainInvalid], Endorsements: () =>
            Certificates(Vcek, "vcek.der").With([SevSnpTestPki.Impostor.Ask]));
        cases["root-milan-not-trusted"] = new(Vcek, [UntrustedRoot], Roots: () =>
            AmdRootCertificates.All.Where(p => p.Key != SevSnpProduct.Milan).ToDictionary());
        cases["root-milan-replaced-by-impostor"] = new(Vcek, [UntrustedRoot], Roots: () =>
            new Dictionary<SevSnpProduct, X509Certificate2> { [SevSnpProduct.Milan] = SevSnpTestPki.Impostor.Ark });
        cases["endorsements-empty"] = new(Vcek, [CollateralMissing], Endorsements: () => EndorsementSet.Empty);

        // Instants one second outside each certificate's validity window.
        cases["instant-vcek-not-yet-valid"] = new(Vcek, [CertificateExpired], At: Instant("2023-04-03T19:23:42Z"));
        cases["instant-vcek-expired"] = new(Vcek, [CertificateExpired], At: Instant("2030-04-03T19:23:44Z"));
        cases["instant-ask-not-yet-valid"] = new(Vcek, [CertificateExpired], At: Instant("2020-10-22T18:24:19Z"));
        cases["instant-ask-expired"] = new(Vcek, [CertificateExpired], At: Instant("2045-10-22T18:24:21Z"));
        cases["instant-ark-not-yet-valid"] = new(Vcek, [CertificateExpired], At: Instant("2020-10-22T17:23:04Z"));
        cases["instant-vlek-not-yet-valid"] = new(Vlek, [CertificateExpired], At: Instant("2024-12-10T22:14:20Z"));
        cases["instant-vlek-expired"] = new(Vlek, [CertificateExpired], At: Instant("2025-12-10T22:14:22Z"));
        cases["instant-asvk-not-yet-valid"] = new(Vlek, [CertificateExpired], At: Instant("2022-11-16T22:45:23Z"));
        cases["instant-debug-vcek-not-yet-valid"] = new(Debug, [CertificateExpired], At: Instant("2022-09-24T00:55:27Z"));
        cases["instant-debug-vcek-expired"] = new(Debug, [CertificateExpired], At: Instant("2029-09-24T00:55:29Z"));

        // Truncation, trailing bytes and versions.
        foreach (int length in new[] { 0, 3, 4, 0x50, SevSnpReport.SignedLength, SevSnpReport.Length - 1, SevSnpReport.Length + 1, 2 * SevSnpReport.Length })
        {
            cases[$"length-{length}"] = new(Vcek, [Malformed], Resize: length);
        }

        foreach (uint version in new uint[] { 0, 1, 6, 0xFFFFFFFF })
        {
            cases[$"version-{version.ToString(CultureInfo.InvariantCulture)}"] = new(Vcek, [Malformed], r => BitConverter.TryWriteBytes(r.AsSpan(0, 4), version));
        }

        return cases;
    }

    private static IEnumerable<X509Certificate2> GenoaAsvkAndArk()
    {
        // The Genoa ASVK is not in the vectors; an impostor "SEV-VLEK-Genoa" chained to the genuine name still
        // cannot sign a Milan VCEK.
        yield return AmdRootCertificates.All[SevSnpProduct.Genoa];
        yield return SevSnpTestPki.Milan.Asvk;
    }

    private static EndorsementSet Certificates(string sample, params string[] files) =>
        EndorsementSet.FromFiles(files.Select(f => (f, SevSnpVectors.File_(sample, f))));

    private static IEnumerable<X509Certificate2> AmdChain(string sample, string file) =>
        Certificates(sample, file).Certificates;

    private static DateTimeOffset Instant(string value) => DateTimeOffset.Parse(value, CultureInfo.InvariantCulture);

    private static byte[] Resized(byte[] report, int length)
    {
        byte[] resized = new byte[length];
        report.AsSpan(0, Math.Min(length, report.Length)).CopyTo(resized);
        if (length > report.Length)
        {
            report.CopyTo(resized, 0);
        }

        return resized;
    }
}
