// Verification of AWS Nitro Enclaves attestation documents ("Nitro Enclaves attestation process",
// aws-nitro-enclaves-nsm-api docs/attestation_process.md, sections 3.2 and 3.3) at an explicit instant:
//  1. the protected header holds alg -35 (ES384) and nothing else; digest is "SHA384";
//  2. cabundle[0] is exactly the embedded AWS Nitro Enclaves Root-G1 (else UntrustedRoot), each following
//     cabundle certificate is issued by the one before it, and the leaf "certificate" by the last one (every
//     issuer a CA); every certificate, root included, is valid at the instant;
//  3. the COSE_Sign1 signature (RFC 9052 section 4.4) verifies with the leaf's P-384 key over
//     Sig_structure = ["Signature1", protected, h'', payload], r and s each in [1, n - 1];
//  4. the document timestamp lies within the leaf's validity and not after the instant (plus 60 s of skew).
// Nitro has no TCB concept: a genuine document reports TcbStatus UpToDate. The enclave is in debug mode when
// PCR0, PCR1 and PCR2 are all zero (absent counts as zero, so a document without them is never taken for a
// production enclave). ReportData is user_data, or nonce when user_data is absent. Azure Attestation defines
// no Nitro claims, so token claims use x-ms-nitro-* names next to x-ms-attestation-type "nitro".
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Endorsements.Nitro;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Evidence.Nitro;

namespace Enclave.AttestationVerifier.Verification.Nitro;

/// <summary>Verifies Nitro attestation documents against the embedded AWS Nitro root. Endorsements are not needed.</summary>
public sealed class NitroVerifier : IHardwareVerifier, ISignatureWorkload
{
    public const string KindName = "nitro";

    /// <summary>COSE algorithm ES384 (RFC 9053 section 2.1).</summary>
    public const long Es384 = -35;

    public const string ExpectedDigest = "SHA384";

    public const int SignatureLength = 96;

    /// <summary>How far the document timestamp may lie after the verification instant.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);

    private const string NistP384Oid = "1.3.132.0.34";

    // The order n of P-384 (FIPS 186-4 appendix D.1.2.4), big-endian.
    private static readonly byte[] s_p384Order = Convert.FromHexString(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");

    public string Kind => KindName;

    /// <summary>An untagged COSE_Sign1 starts with 0x84 (array of 4); a tagged one with 0xD2 0x84.</summary>
    public bool Recognizes(ReadOnlySpan<byte> evidence) =>
        (evidence.Length > 1 && evidence[0] == 0x84 && evidence[1] is 0x40 or 0x41 or 0x42 or 0x43 or 0x44 or 0x58)
        || (evidence.Length > 2 && evidence[0] == 0xD2 && evidence[1] == 0x84);

    public HardwareVerificationReport Verify(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(endorsements);
        UnverifiedNitroDocument document;
        try
        {
            document = NitroAttestationDocument.Parse(evidence.Span);
        }
        catch (EvidenceFormatException e)
        {
            return HardwareVerificationReport.Unusable(KindName, VerificationCodes.Malformed, e.Message);
        }

        Dictionary<string, string> claims = BuildClaims(document);
        HardwareIdentity identity = BuildIdentity(document);
        List<VerificationProblem> errors = [];
        CheckHeader(document, errors);

        List<X509Certificate2> certificates = [];
        try
        {
            if (!TryLoadCertificates(document, certificates, errors))
            {
                return new HardwareVerificationReport(KindName, false, null, claims, errors, identity);
            }

            X509Certificate2 leaf = certificates[^1];
            AddCertificateClaims(claims, leaf);
            CheckChain(certificates, errors);
            CheckValidity(certificates, at, errors);
            CheckSignature(document, leaf, errors);
            CheckTimestamp(document, leaf, at, errors);
        }
        catch (CryptographicException e)
        {
            errors.Add(new VerificationProblem(VerificationCodes.Malformed, $"a certificate's contents could not be decoded: {e.Message}"));
        }
        finally
        {
            foreach (X509Certificate2 certificate in certificates)
            {
                certificate.Dispose();
            }
        }

        bool verified = errors.Count == 0;
        return new HardwareVerificationReport(KindName, verified, verified ? TcbStatus.UpToDate : null, claims, errors, identity);
    }

    /// <inheritdoc/>
    /// <remarks>A warm verification checks the COSE_Sign1 ES384 signature; the certificate chain's signatures are
    /// remembered once verified.</remarks>
    /// <exception cref="EvidenceFormatException">The document does not parse.</exception>
    public Func<bool> CreateSignatureWorkload(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at)
    {
        UnverifiedNitroDocument document = NitroAttestationDocument.Parse(evidence.Span);
        X509Certificate2 leaf = X509CertificateLoader.LoadCertificate(document.Certificate);
        return () =>
        {
            List<VerificationProblem> problems = [];
            CheckSignature(document, leaf, problems);
            return problems.Count == 0;
        };
    }

    private static void CheckHeader(UnverifiedNitroDocument document, List<VerificationProblem> errors)
    {
        if (document.Algorithm != Es384)
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.AlgorithmNotAllowed,
                document.Algorithm is null
                    ? "the protected header names no algorithm; ES384 (-35) is required"
                    : $"the protected header names algorithm {document.Algorithm}; only ES384 (-35) is allowed"));
        }

        foreach (string label in document.ProtectedLabels)
        {
            if (label != "1")
            {
                errors.Add(new VerificationProblem(
                    VerificationCodes.Unsupported, $"the protected header carries label {label}; only alg (1) is understood"));
            }
        }

        if (!string.Equals(document.Digest, ExpectedDigest, StringComparison.Ordinal))
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.Unsupported, $"the PCR digest is \"{document.Digest}\"; only {ExpectedDigest} is defined"));
        }
    }

    // Loads cabundle (root first) followed by the leaf.
    private static bool TryLoadCertificates(UnverifiedNitroDocument document, List<X509Certificate2> certificates, List<VerificationProblem> errors)
    {
        for (int i = 0; i <= document.CaBundle.Count; i++)
        {
            byte[] der = i < document.CaBundle.Count ? document.CaBundle[i] : document.Certificate;
            string name = i < document.CaBundle.Count ? $"cabundle[{i}]" : "certificate";
            try
            {
                certificates.Add(X509CertificateLoader.LoadCertificate(der));
            }
            catch (CryptographicException)
            {
                errors.Add(new VerificationProblem(VerificationCodes.Malformed, $"{name} is not a DER X.509 certificate"));
                return false;
            }
        }

        return true;
    }

    private static void CheckChain(List<X509Certificate2> certificates, List<VerificationProblem> errors)
    {
        if (!NitroRoot.IsRoot(certificates[0].RawData))
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.UntrustedRoot,
                $"cabundle[0] ({certificates[0].Subject}) is not the AWS Nitro Enclaves Root-G1 (DER SHA-256 {NitroRoot.DerSha256})"));
        }

        for (int i = 1; i < certificates.Count; i++)
        {
            string name = i == certificates.Count - 1 ? "the leaf certificate" : $"cabundle[{i}]";
            X509Certificate2 issuer = certificates[i - 1];
            if (!CertificateSignature.IsCertificateAuthority(issuer))
            {
                errors.Add(new VerificationProblem(
                    VerificationCodes.ChainInvalid, $"cabundle[{i - 1}] ({issuer.Subject}) is not a CA certificate"));
            }
            else if (!CertificateSignature.IsIssuedBy(certificates[i], issuer))
            {
                errors.Add(new VerificationProblem(
                    VerificationCodes.ChainInvalid, $"{name} ({certificates[i].Subject}) is not issued by cabundle[{i - 1}] ({issuer.Subject})"));
            }
        }
    }

    private static void CheckValidity(List<X509Certificate2> certificates, DateTimeOffset at, List<VerificationProblem> errors)
    {
        for (int i = 0; i < certificates.Count; i++)
        {
            if (!CertificateSignature.IsValidAt(certificates[i], at))
            {
                string name = i == certificates.Count - 1 ? "the leaf certificate" : $"cabundle[{i}]";
                errors.Add(new VerificationProblem(
                    VerificationCodes.CertificateExpired,
                    $"{name} ({certificates[i].Subject}) is valid {CertificateSignature.DescribeValidity(certificates[i])}, not at {at.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}"));
            }
        }
    }

    private static void CheckSignature(UnverifiedNitroDocument document, X509Certificate2 leaf, List<VerificationProblem> errors)
    {
        using ECDsa? key = leaf.GetECDsaPublicKey();
        if (key is null || !string.Equals(key.ExportParameters(false).Curve.Oid?.Value, NistP384Oid, StringComparison.Ordinal))
        {
            errors.Add(new VerificationProblem(VerificationCodes.AlgorithmNotAllowed, "the leaf certificate's key is not an ECDSA P-384 key"));
            return;
        }

        if (document.Signature.Length != SignatureLength)
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.EvidenceSignatureInvalid, $"an ES384 signature is {SignatureLength} bytes, not {document.Signature.Length}"));
            return;
        }

        if (!IsScalarInRange(document.Signature.AsSpan(0, 48)) || !IsScalarInRange(document.Signature.AsSpan(48)))
        {
            errors.Add(new VerificationProblem(VerificationCodes.EvidenceSignatureInvalid, "the signature has r or s outside [1, n - 1]"));
            return;
        }

        byte[] toBeSigned = SigStructure(document.ProtectedHeader, document.Payload);
        if (!key.VerifyData(toBeSigned, document.Signature, HashAlgorithmName.SHA384, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.EvidenceSignatureInvalid, "the COSE_Sign1 signature does not verify with the leaf certificate's key"));
        }
    }

    private static void CheckTimestamp(UnverifiedNitroDocument document, X509Certificate2 leaf, DateTimeOffset at, List<VerificationProblem> errors)
    {
        if (document.TimestampMs > (ulong)DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            errors.Add(new VerificationProblem(VerificationCodes.Expired, $"the document timestamp {document.TimestampMs} ms is out of range"));
            return;
        }

        DateTimeOffset timestamp = DateTimeOffset.FromUnixTimeMilliseconds((long)document.TimestampMs);
        if (!CertificateSignature.IsValidAt(leaf, timestamp))
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.Expired,
                $"the document timestamp {timestamp:O} lies outside the leaf certificate's validity {CertificateSignature.DescribeValidity(leaf)}"));
        }

        if (timestamp > at + ClockSkew)
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.Expired, $"the document timestamp {timestamp:O} is after the verification instant {at:O}"));
        }
    }

    /// <summary>Sig_structure for COSE_Sign1 (RFC 9052 section 4.4), in definite-length encoding.</summary>
    internal static byte[] SigStructure(ReadOnlySpan<byte> protectedHeader, ReadOnlySpan<byte> payload)
    {
        ReadOnlySpan<byte> context = "Signature1"u8;
        List<byte> buffer = new(32 + protectedHeader.Length + payload.Length) { 0x84 };
        AppendHead(buffer, 3, (ulong)context.Length);
        buffer.AddRange(context);
        AppendHead(buffer, 2, (ulong)protectedHeader.Length);
        buffer.AddRange(protectedHeader);
        AppendHead(buffer, 2, 0);
        AppendHead(buffer, 2, (ulong)payload.Length);
        buffer.AddRange(payload);
        return [.. buffer];
    }

    private static void AppendHead(List<byte> buffer, int major, ulong value)
    {
        byte type = (byte)(major << 5);
        if (value < 24)
        {
            buffer.Add((byte)(type | (byte)value));
        }
        else if (value <= byte.MaxValue)
        {
            buffer.Add((byte)(type | 24));
            buffer.Add((byte)value);
        }
        else if (value <= ushort.MaxValue)
        {
            buffer.Add((byte)(type | 25));
            buffer.Add((byte)(value >> 8));
            buffer.Add((byte)value);
        }
        else
        {
            buffer.Add((byte)(type | 26));
            for (int shift = 24; shift >= 0; shift -= 8)
            {
                buffer.Add((byte)(value >> shift));
            }
        }
    }

    private static bool IsScalarInRange(ReadOnlySpan<byte> scalar) =>
        scalar.ContainsAnyExcept((byte)0) && scalar.SequenceCompareTo(s_p384Order) < 0;

    private static Dictionary<string, string> BuildClaims(UnverifiedNitroDocument document)
    {
        Dictionary<string, string> claims = new(StringComparer.Ordinal)
        {
            ["module_id"] = document.ModuleId,
            ["digest"] = document.Digest,
            ["timestamp_ms"] = document.TimestampMs.ToString(CultureInfo.InvariantCulture),
            ["pcrs_count"] = document.Pcrs.Count.ToString(CultureInfo.InvariantCulture),
            ["cabundle_len"] = document.CaBundle.Count.ToString(CultureInfo.InvariantCulture),
            ["protected"] = Convert.ToHexStringLower(document.ProtectedHeader),
            ["protected.alg"] = document.Algorithm?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
            ["tagged"] = document.Tagged ? "true" : "false",
            ["signature"] = Convert.ToHexStringLower(document.Signature),
            ["certificate"] = Convert.ToHexStringLower(document.Certificate),
        };
        if (document.TimestampMs <= (ulong)DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            // Microsecond precision with an explicit offset, as RFC 3339 profiles print it.
            claims["timestamp"] = DateTimeOffset.FromUnixTimeMilliseconds((long)document.TimestampMs)
                .ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'+00:00'", CultureInfo.InvariantCulture);
        }

        foreach ((int index, byte[] value) in document.Pcrs)
        {
            claims[$"pcrs.{index}"] = Convert.ToHexStringLower(value);
        }

        for (int i = 0; i < document.CaBundle.Count; i++)
        {
            claims[$"cabundle.{i}"] = Convert.ToHexStringLower(document.CaBundle[i]);
        }

        AddOptional(claims, "public_key", document.PublicKey);
        AddOptional(claims, "user_data", document.UserData);
        AddOptional(claims, "nonce", document.Nonce);
        return claims;
    }

    private static void AddCertificateClaims(Dictionary<string, string> claims, X509Certificate2 leaf)
    {
        claims["certificate.subject"] = leaf.Subject;
        claims["certificate.not_before"] = leaf.NotBefore.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        claims["certificate.not_after"] = leaf.NotAfter.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    private static void AddOptional(Dictionary<string, string> claims, string name, byte[]? value)
    {
        if (value is not null)
        {
            claims[name] = Convert.ToHexStringLower(value);
        }
    }

    private static HardwareIdentity BuildIdentity(UnverifiedNitroDocument document)
    {
        Dictionary<int, byte[]> pcrs = document.Pcrs.ToDictionary(p => p.Key, p => p.Value);
        bool debug = true;
        for (int i = 0; i <= 2; i++)
        {
            if (pcrs.TryGetValue(i, out byte[]? value) && value.AsSpan().ContainsAnyExcept((byte)0))
            {
                debug = false;
            }
        }

        Dictionary<string, string> measurements = new(StringComparer.Ordinal);
        Dictionary<string, object> tokenClaims = new(StringComparer.Ordinal)
        {
            ["x-ms-attestation-type"] = KindName,
            ["x-ms-nitro-module-id"] = document.ModuleId,
            ["x-ms-nitro-is-debuggable"] = debug,
        };
        for (int i = 0; i <= 8; i++)
        {
            if (pcrs.TryGetValue(i, out byte[]? value))
            {
                string hex = Convert.ToHexStringLower(value);
                measurements[$"pcr{i}"] = hex;
                tokenClaims[$"x-ms-nitro-pcr{i}"] = hex;
            }
        }

        string? signer = pcrs.TryGetValue(8, out byte[]? pcr8) && pcr8.AsSpan().ContainsAnyExcept((byte)0)
            ? Convert.ToHexStringLower(pcr8)
            : null;
        byte[] reportData = document.UserData ?? document.Nonce ?? [];
        return new HardwareIdentity(
            debug,
            measurements,
            signer,
            new Dictionary<string, long>(StringComparer.Ordinal),
            reportData,
            $"nitro:{document.ModuleId}",
            tokenClaims);
    }
}
