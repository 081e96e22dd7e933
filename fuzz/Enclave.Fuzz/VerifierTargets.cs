using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Enclave.AttestationVerifier;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Nodes;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.Fuzz;

/// <summary>Targets for the attestation verifier's parsers.</summary>
internal static class VerifierTargets
{
    private static readonly Lazy<SimulatedEvidenceVerifier> s_verifier = new(CreateVerifier);
    private static readonly Lazy<NodeRegistry> s_registry = new(CreateRegistry);
    private static readonly DateTimeOffset s_hardwareInstant = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private delegate void SpanParser(ReadOnlySpan<byte> bytes);

    public static void SimulatedEvidence(ReadOnlySpan<byte> input)
    {
        try
        {
            SimulatedEvidenceParser.Parse(input);
        }
        catch (EvidenceFormatException)
        {
        }
    }

    public static void SimulatedEvidenceVerify(ReadOnlySpan<byte> input)
    {
        try
        {
            s_verifier.Value.Verify(input);
        }
        catch (EvidenceFormatException)
        {
        }
    }

    public static void DcapQuote(ReadOnlySpan<byte> input) =>
        ParseOnly(input, static bytes => Enclave.AttestationVerifier.Evidence.Dcap.DcapQuote.Parse(bytes));

    public static void SevSnpReport(ReadOnlySpan<byte> input) =>
        ParseOnly(input, static bytes => Enclave.AttestationVerifier.Evidence.SevSnp.SevSnpReport.Parse(bytes));

    public static void NitroDocument(ReadOnlySpan<byte> input) =>
        ParseOnly(input, static bytes => Enclave.AttestationVerifier.Evidence.Nitro.NitroAttestationDocument.Parse(bytes));

    public static void MaaToken(ReadOnlySpan<byte> input) =>
        ParseOnly(input, static bytes => Enclave.AttestationVerifier.Evidence.Maa.MaaToken.Parse(bytes));

    /// <summary>Every hardware verifier on the input with no endorsements: Verify reports, it never throws.</summary>
    public static void HardwareVerify(ReadOnlySpan<byte> input)
    {
        byte[] bytes = input.ToArray();
        foreach (Enclave.AttestationVerifier.Verification.IHardwareVerifier verifier in Enclave.AttestationVerifier.Verification.HardwareVerifiers.All)
        {
            verifier.Recognizes(bytes);
            verifier.Verify(bytes, Enclave.AttestationVerifier.Endorsements.EndorsementSet.Empty, s_hardwareInstant);
        }
    }

    public static void RuntimeData(ReadOnlySpan<byte> input) =>
        Enclave.AttestationVerifier.Appraisal.RuntimeData.TryParse(input, out _, out _);

    public static void EnrollmentPayload(ReadOnlySpan<byte> input) =>
        Enclave.AttestationVerifier.Nodes.EnrollmentRequest.TryReadPayload(input, out _, out _, out _);

    public static void EnrollmentRequest(ReadOnlySpan<byte> input) =>
        s_registry.Value.Enroll(Encoding.UTF8.GetString(input));

    /// <summary>Signs the fuzzed bytes as an enrolment payload, so the checks after the signature are reached.</summary>
    public static void EnrollmentRequestSigned(ReadOnlySpan<byte> input) =>
        s_registry.Value.Enroll(FuzzKeys.SignCompact(
            FuzzKeys.RequestSigner, FuzzKeys.RequestSignerJwk.ComputeThumbprint(), Enclave.AttestationVerifier.Nodes.EnrollmentRequest.MediaType, input));

    public static void EndorsementSet(ReadOnlySpan<byte> input)
    {
        try
        {
            Enclave.AttestationVerifier.Endorsements.EndorsementSet.FromFiles([("fuzz", input.ToArray())]);
        }
        catch (EndorsementException)
        {
        }
    }

    public static void AppraisalPolicy(ReadOnlySpan<byte> input)
    {
        try
        {
            Enclave.AttestationVerifier.Appraisal.AppraisalPolicy.FromJson(Encoding.UTF8.GetString(input));
        }
        catch (InvalidDataException)
        {
        }
    }

    /// <summary>The simulated root (with its private key) and platform the verifier target trusts, from fixed keys and dates.</summary>
    internal static (X509Certificate2 Root, X509Certificate2 Platform, ECDsa PlatformKey) SimulatedPki()
    {
        ECDsa rootKey = FuzzKeys.RequestSigner;
        var rootRequest = new CertificateRequest(SimulatedRoot.SubjectName, rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        rootRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(rootRequest.PublicKey, false));
        DateTimeOffset notBefore = FuzzKeys.Now.AddYears(-1);
        X509Certificate2 root = rootRequest.CreateSelfSigned(notBefore, notBefore.AddYears(10));

        ECDsa platformKey = FuzzKeys.TokenSigner;
        var request = new CertificateRequest("CN=Enclave Simulated Platform fuzz, O=INSECURE SIMULATION", platformKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
        X509Certificate2 platform = request.Create(root, notBefore, notBefore.AddYears(5), [0x01, 0x02, 0x03, 0x04]);
        return (root, platform, platformKey);
    }

    private static SimulatedEvidenceVerifier CreateVerifier()
    {
        (X509Certificate2 root, _, _) = SimulatedPki();
        var options = new VerifierOptions(FuzzKeys.Issuer, Path.Combine(Path.GetTempPath(), "enclave-fuzz-verifier"))
        {
            AllowSimulated = true,
            SimulatedRoot = SimulatedRoot.FromCertificate(root),
        };
        return new SimulatedEvidenceVerifier(options, FuzzKeys.Time);
    }

    private static NodeRegistry CreateRegistry()
    {
        string directory = Directory.CreateTempSubdirectory("enclave-fuzz-nodes-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(directory);
        return new NodeRegistry(Path.Combine(directory, "nodes.db"), [FuzzKeys.RequestSignerJwk], FuzzKeys.Time);
    }

    private static void ParseOnly(ReadOnlySpan<byte> input, SpanParser parse)
    {
        try
        {
            parse(input);
        }
        catch (EvidenceFormatException)
        {
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
