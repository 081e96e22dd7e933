using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Verification;
using Enclave.AttestationVerifier.Verification.Nitro;

namespace Enclave.AttestationVerifier.Tests.Nitro;

/// <summary>
/// Every case changes one thing in a genuine document (or the instant) and expects one exact code as the first
/// error. Changes inside the payload re-encode it and keep the original signature.
/// </summary>
public sealed class NitroNegativeTests
{
    private const string Malformed = VerificationCodes.Malformed;
    private const string SignatureInvalid = VerificationCodes.EvidenceSignatureInvalid;
    private const string ChainInvalid = VerificationCodes.ChainInvalid;

    private static readonly (string Mutation, string Code)[] s_mutations =
    [
        ("alg-es256-non-minimal", VerificationCodes.AlgorithmNotAllowed),
        ("alg-es512", VerificationCodes.AlgorithmNotAllowed),
        ("alg-label-changed", VerificationCodes.AlgorithmNotAllowed),
        ("alg-text", Malformed),
        ("protected-crit-label", VerificationCodes.Unsupported),
        ("protected-length-plus-one", Malformed),
        ("signature-first-byte", SignatureInvalid),
        ("signature-last-byte", SignatureInvalid),
        ("signature-middle-byte", SignatureInvalid),
        ("signature-r-s-zero", SignatureInvalid),
        ("signature-r-equals-n", SignatureInvalid),
        ("signature-95-bytes", SignatureInvalid),
        ("module-id-byte", SignatureInvalid),
        ("pcr3-byte", SignatureInvalid),
        ("pcr4-byte", SignatureInvalid),
        ("pcr-removed", SignatureInvalid),
        ("timestamp-plus-1ms", SignatureInvalid),
        ("user-data-added", SignatureInvalid),
        ("digest-sha256", VerificationCodes.Unsupported),
        ("leaf-signature-byte", ChainInvalid),
        ("leaf-from-other-sample", ChainInvalid),
        ("cabundle1-signature-byte", ChainInvalid),
        ("cabundle3-signature-byte", ChainInvalid),
        ("cabundle1-from-other-sample", ChainInvalid),
        ("cabundle2-from-other-sample", ChainInvalid),
        ("cabundle3-from-other-sample", ChainInvalid),
        ("cabundle-order-swapped", ChainInvalid),
        ("cabundle0-byte", VerificationCodes.UntrustedRoot),
        ("cabundle0-self-made-root", VerificationCodes.UntrustedRoot),
        ("cabundle-without-root", VerificationCodes.UntrustedRoot),
        ("certificate-not-der", Malformed),
        ("truncated-empty", Malformed),
        ("truncated-1", Malformed),
        ("truncated-in-protected", Malformed),
        ("truncated-in-payload", Malformed),
        ("truncated-last-byte", Malformed),
        ("payload-length-oversized", Malformed),
        ("payload-length-64-bit", Malformed),
        ("signature-length-oversized", Malformed),
        ("array-count-5", Malformed),
        ("array-indefinite", Malformed),
        ("trailing-byte", Malformed),
        ("tag-17", Malformed),
        ("pcr-47-bytes", Malformed),
        ("pcr-index-32", Malformed),
        ("payload-duplicate-key", Malformed),
        ("payload-unknown-key", Malformed),
        ("payload-missing-certificate", Malformed),
        ("payload-missing-timestamp", Malformed),
        ("cabundle-empty", Malformed),
        ("user-data-1025-bytes", Malformed),
        ("module-id-bytes-not-text", Malformed),
        ("payload-not-a-map", Malformed),
        ("unprotected-count-1", Malformed),
        ("cabundle-count-17", Malformed),
        ("cabundle-count-5", Malformed),
        ("pcrs-count-23", Malformed),
        ("pcrs-count-oversized", Malformed),
        ("certificate-length-oversized", Malformed),
        ("module-id-length-oversized", Malformed),
        ("reserved-additional-information", Malformed),
        ("float-in-payload", Malformed),
    ];

    private readonly NitroVerifier _verifier = new();

    public static TheoryData<string, string, string> Cases()
    {
        TheoryData<string, string, string> data = [];
        foreach (string sample in NitroSample.All)
        {
            foreach ((string mutation, string code) in s_mutations)
            {
                data.Add(sample, mutation, code);
            }

            int chainLength = NitroSample.Load(sample).CaBundle.Count + 1;
            for (int i = 0; i < chainLength; i++)
            {
                data.Add(sample, $"instant-before-cert{i}", VerificationCodes.CertificateExpired);
                data.Add(sample, $"instant-after-cert{i}", VerificationCodes.CertificateExpired);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Mutated_document_is_refused_with_the_exact_code(string sample, string mutation, string code)
    {
        NitroSample s = NitroSample.Load(sample);
        (byte[] document, DateTimeOffset at) = Apply(s, mutation);
        Assert.NotEqual(s.Document, document);

        HardwareVerificationReport report = _verifier.Verify(document, EndorsementSet.Empty, at);

        Assert.False(report.Verified);
        Assert.Null(report.TcbStatus);
        Assert.NotEmpty(report.Errors);
        Assert.True(code == report.Errors[0].Code, $"expected {code}, got {string.Join("; ", report.Errors)}");
    }

    public static TheoryData<string, string> InstantCases()
    {
        TheoryData<string, string> data = [];
        foreach (string sample in NitroSample.All)
        {
            int chainLength = NitroSample.Load(sample).CaBundle.Count + 1;
            for (int i = 0; i < chainLength; i++)
            {
                data.Add(sample, $"instant-before-cert{i}");
                data.Add(sample, $"instant-after-cert{i}");
            }
        }

        return data;
    }

    /// <summary>One second back inside the window the document verifies unless another certificate is out of its own.</summary>
    [Theory]
    [MemberData(nameof(InstantCases))]
    public void Instant_at_the_edge_of_each_validity_window_is_inside_it(string sample, string mutation)
    {
        NitroSample s = NitroSample.Load(sample);
        (_, DateTimeOffset outside) = Apply(s, mutation);
        DateTimeOffset inside = mutation.StartsWith("instant-before", StringComparison.Ordinal) ? outside.AddSeconds(1) : outside.AddSeconds(-1);
        List<X509Certificate2> chain = s.Chain();
        bool allValid = chain.All(c => inside >= c.NotBefore.ToUniversalTime() && inside <= c.NotAfter.ToUniversalTime());
        DateTimeOffset timestamp = DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(s.Expected.GetProperty("fields").GetProperty("timestamp_ms").GetRawText(), System.Globalization.CultureInfo.InvariantCulture));
        HardwareVerificationReport report = _verifier.Verify(s.Document, EndorsementSet.Empty, inside);
        Assert.Equal(allValid && timestamp <= inside + NitroVerifier.ClockSkew, report.Verified);
        if (!report.Verified)
        {
            Assert.Contains(report.Errors, e => e.Code is VerificationCodes.CertificateExpired or VerificationCodes.Expired);
        }
    }

    private static (byte[] Document, DateTimeOffset At) Apply(NitroSample s, string mutation)
    {
        if (mutation.StartsWith("instant-", StringComparison.Ordinal))
        {
            int index = int.Parse(mutation[(mutation.IndexOf("cert", StringComparison.Ordinal) + 4)..], System.Globalization.CultureInfo.InvariantCulture);
            X509Certificate2 certificate = s.Chain()[index];
            DateTimeOffset at = mutation.StartsWith("instant-before", StringComparison.Ordinal)
                ? new DateTimeOffset(certificate.NotBefore.ToUniversalTime()).AddSeconds(-1)
                : new DateTimeOffset(certificate.NotAfter.ToUniversalTime()).AddSeconds(1);

            // The document itself is unchanged; a marker byte keeps the "document differs" assertion meaningful
            // only for byte mutations, so return a tagged copy (which verifies like the untagged one).
            return ([0xD2, .. s.Document], at);
        }

        return (Mutate(s, mutation), s.At);
    }

    private static byte[] Mutate(NitroSample s, string mutation)
    {
        byte[] doc = s.Document;
        int signatureStart = doc.Length - 96;
        NitroSample other = s.Other();
        switch (mutation)
        {
            case "alg-es256-non-minimal":
                return Set(doc, 5, 0x06);
            case "alg-es512":
                return Set(doc, 5, 0x23);
            case "alg-label-changed":
                return Set(doc, 3, 0x04);
            case "alg-text":
                return s.WithEnvelope(e => e[0] = TestCbor.Encode(new CborMap { new(1L, "ES384") }));
            case "protected-crit-label":
                return s.WithEnvelope(e => e[0] = TestCbor.Encode(new CborMap { new(1L, -35L), new(2L, new List<object?> { 99L }) }));
            case "protected-length-plus-one":
                return Set(doc, 1, 0x45);
            case "signature-first-byte":
                return s.FlipAt(signatureStart);
            case "signature-last-byte":
                return s.FlipAt(doc.Length - 1);
            case "signature-middle-byte":
                return s.FlipAt(signatureStart + 48);
            case "signature-r-s-zero":
                return s.WithEnvelope(e => e[3] = new byte[96]);
            case "signature-r-equals-n":
                return s.WithEnvelope(e =>
                {
                    byte[] signature = (byte[])e[3]!;
                    Convert.FromHexString("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973").CopyTo(signature, 0);
                });
            case "signature-95-bytes":
                return s.WithEnvelope(e => e[3] = ((byte[])e[3]!)[..95]);
            case "module-id-byte":
                return s.WithPayload(p => p["module_id"] = FlipLast((string)p["module_id"]!));
            case "pcr3-byte":
                return s.WithPayload(p => FlipPcr(p, 3));
            case "pcr4-byte":
                return s.WithPayload(p => FlipPcr(p, 4));
            case "pcr-removed":
                return s.WithPayload(p => ((CborMap)p["pcrs"]!).RemoveAt(15));
            case "timestamp-plus-1ms":
                return s.WithPayload(p => p["timestamp"] = (long)p["timestamp"]! + 1);
            case "user-data-added":
                return s.WithPayload(p => p["user_data"] = new byte[64]);
            case "digest-sha256":
                return s.WithPayload(p => p["digest"] = "SHA256");
            case "leaf-signature-byte":
                return s.FlipAt(s.OffsetOf(s.LeafDer) + s.LeafDer.Length - 1);
            case "leaf-from-other-sample":
                return s.WithPayload(p => p["certificate"] = Different(other.LeafDer, s.LeafDer));
            case "cabundle1-signature-byte":
                return s.FlipAt(s.OffsetOf(s.CaBundle[1]) + s.CaBundle[1].Length - 1);
            case "cabundle3-signature-byte":
                return s.FlipAt(s.OffsetOf(s.CaBundle[3]) + s.CaBundle[3].Length - 1);
            case "cabundle1-from-other-sample":
            case "cabundle2-from-other-sample":
            case "cabundle3-from-other-sample":
                int index = mutation[8] - '0';
                return s.WithPayload(p => ((List<object?>)p["cabundle"]!)[index] = Different(other.CaBundle[index], s.CaBundle[index]));
            case "cabundle-order-swapped":
                return s.WithPayload(p =>
                {
                    var bundle = (List<object?>)p["cabundle"]!;
                    (bundle[1], bundle[2]) = (bundle[2], bundle[1]);
                });
            case "cabundle0-byte":
                return s.FlipAt(s.OffsetOf(s.CaBundle[0]) + s.CaBundle[0].Length - 1);
            case "cabundle0-self-made-root":
                return s.WithPayload(p => ((List<object?>)p["cabundle"]!)[0] = SelfMadeRoot());
            case "cabundle-without-root":
                return s.WithPayload(p => ((List<object?>)p["cabundle"]!).RemoveAt(0));
            case "certificate-not-der":
                return s.WithPayload(p => p["certificate"] = new byte[] { 0x30, 0x03, 0x02, 0x01, 0x00 });
            case "truncated-empty":
                return [];
            case "truncated-1":
                return doc[..1];
            case "truncated-in-protected":
                return doc[..4];
            case "truncated-in-payload":
                return doc[..(doc.Length / 2)];
            case "truncated-last-byte":
                return doc[..^1];
            case "payload-length-oversized":
                Assert.Equal(0x59, doc[7]);
                return Set(Set(doc, 8, 0xFF), 9, 0xFF);
            case "payload-length-64-bit":
                return [.. doc[..7], 0x5B, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, .. doc[10..]];
            case "signature-length-oversized":
                Assert.Equal(0x58, doc[signatureStart - 2]);
                return Set(doc, signatureStart - 1, 0x61);
            case "array-count-5":
                return Set(doc, 0, 0x85);
            case "array-indefinite":
                return [0x9F, .. doc[1..], 0xFF];
            case "trailing-byte":
                return [.. doc, 0x00];
            case "tag-17":
                return [0xD1, .. doc];
            case "pcr-47-bytes":
                return s.WithPayload(p => ((CborMap)p["pcrs"]!)[0] = new(0L, new byte[47]));
            case "pcr-index-32":
                return s.WithPayload(p => ((CborMap)p["pcrs"]!)[15] = new(32L, new byte[48]));
            case "payload-duplicate-key":
                return s.WithPayload(p => p.Add(new("module_id", "i-00000000000000000-enc0000000000000000")));
            case "payload-unknown-key":
                return s.WithPayload(p => p.Add(new("debug", true)));
            case "payload-missing-certificate":
                return s.WithPayload(p => p.RemoveAll(e => Equals(e.Key, "certificate")));
            case "payload-missing-timestamp":
                return s.WithPayload(p => p.RemoveAll(e => Equals(e.Key, "timestamp")));
            case "cabundle-empty":
                return s.WithPayload(p => p["cabundle"] = new List<object?>());
            case "user-data-1025-bytes":
                return s.WithPayload(p => p["user_data"] = new byte[1025]);
            case "module-id-bytes-not-text":
                return s.WithPayload(p => p["module_id"] = System.Text.Encoding.UTF8.GetBytes((string)p["module_id"]!));
            case "payload-not-a-map":
                return s.WithEnvelope(e => e[2] = TestCbor.Encode(new List<object?> { 1L }));
            case "unprotected-count-1":
                Assert.Equal(0xA0, doc[6]);
                return Set(doc, 6, 0xA1);
            case "cabundle-count-17":
                return SetAfterKey(s, "cabundle", 0x84, 0x91);
            case "cabundle-count-5":
                return SetAfterKey(s, "cabundle", 0x84, 0x85);
            case "pcrs-count-23":
                return SetAfterKey(s, "pcrs", 0xB0, 0xB7);
            case "pcrs-count-oversized":
                // map head with a 4-byte count (0xBA): the count byte and the first PCR index become the argument.
                return SetAfterKey(s, "pcrs", 0xB0, 0xBA);
            case "certificate-length-oversized":
                int head = SetAfterKeyOffset(s, "certificate", 0x59);
                return Set(Set(doc, head + 1, 0xFF), head + 2, 0xFF);
            case "module-id-length-oversized":
                int text = SetAfterKeyOffset(s, "module_id", 0x78);
                return Set(doc, text + 1, 0xFF);
            case "reserved-additional-information":
                return SetAfterKey(s, "timestamp", 0x1B, 0x1C);
            case "float-in-payload":
                return SetAfterKey(s, "timestamp", 0x1B, 0xFB);
            default:
                throw new ArgumentOutOfRangeException(nameof(mutation), mutation, "unknown mutation");
        }
    }

    /// <summary>The offset of the item head that follows the text key <paramref name="key"/> in the payload.</summary>
    private static int SetAfterKeyOffset(NitroSample s, string key, byte expectedHead)
    {
        byte[] encodedKey = TestCbor.Encode(key);
        int offset = s.OffsetOf(encodedKey) + encodedKey.Length;
        Assert.Equal(expectedHead, s.Document[offset]);
        return offset;
    }

    private static byte[] SetAfterKey(NitroSample s, string key, byte expectedHead, byte value) =>
        Set(s.Document, SetAfterKeyOffset(s, key, expectedHead), value);

    private static byte[] Set(byte[] document, int offset, byte value)
    {
        byte[] copy = (byte[])document.Clone();
        copy[offset] = value;
        return copy;
    }

    private static string FlipLast(string text) => text[..^1] + (char)(text[^1] ^ 0x01);

    private static void FlipPcr(CborMap payload, long index)
    {
        var pcrs = (CborMap)payload["pcrs"]!;
        int position = pcrs.FindIndex(e => Equals(e.Key, index));
        byte[] value = (byte[])((byte[])pcrs[position].Value!).Clone();
        value[0] ^= 0x01;
        pcrs[position] = new(index, value);
    }

    private static byte[] Different(byte[] replacement, byte[] original)
    {
        Assert.NotEqual(original, replacement);
        return replacement;
    }

    // A self-signed P-384 CA with the genuine root's subject: everything but the key and signature.
    private static byte[] SelfMadeRoot()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        CertificateRequest request = new("CN=aws.nitro-enclaves, OU=AWS, O=Amazon, C=US", key, HashAlgorithmName.SHA384);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using X509Certificate2 root = request.CreateSelfSigned(
            new DateTimeOffset(2019, 10, 28, 13, 28, 5, TimeSpan.Zero), new DateTimeOffset(2049, 10, 28, 14, 28, 5, TimeSpan.Zero));
        return root.RawData;
    }
}
