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
using System.Collections.Concurrent;
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

    private const int MaxCaBundle = NitroAttestationDocument.MaxCaBundleCount;

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

        NitroChain chain = NitroChain.For(document);
        if (chain.LoadProblem is { } problem)
        {
            errors.Add(problem);
            return new HardwareVerificationReport(KindName, false, null, claims, errors, identity);
        }

        AddCertificateClaims(claims, chain);
        errors.AddRange(chain.Problems);
        CheckValidity(chain, at, errors);
        CheckSignature(document, chain.LeafKey, errors);
        CheckTimestamp(document, chain, at, errors);
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
        ECDsa? key = leaf.GetECDsaPublicKey();
        return () =>
        {
            List<VerificationProblem> problems = [];
            CheckSignature(document, key, problems);
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

    private static void CheckValidity(NitroChain chain, DateTimeOffset at, List<VerificationProblem> errors)
    {
        for (int i = 0; i < chain.Count; i++)
        {
            if (at < chain.NotBefore[i] || at > chain.NotAfter[i])
            {
                errors.Add(new VerificationProblem(
                    VerificationCodes.CertificateExpired,
                    $"{chain.Name(i)} ({chain.Subjects[i]}) is valid {chain.DescribeValidity(i)}, not at {at.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}"));
            }
        }
    }

    private static void CheckSignature(UnverifiedNitroDocument document, ECDsa? key, List<VerificationProblem> errors)
    {
        if (key is null || key.KeySize != 384)
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

    private static void CheckTimestamp(UnverifiedNitroDocument document, NitroChain chain, DateTimeOffset at, List<VerificationProblem> errors)
    {
        if (document.TimestampMs > (ulong)DateTimeOffset.MaxValue.ToUnixTimeMilliseconds())
        {
            errors.Add(new VerificationProblem(VerificationCodes.Expired, $"the document timestamp {document.TimestampMs} ms is out of range"));
            return;
        }

        DateTimeOffset timestamp = DateTimeOffset.FromUnixTimeMilliseconds((long)document.TimestampMs);
        int leaf = chain.Count - 1;
        if (timestamp < chain.NotBefore[leaf] || timestamp > chain.NotAfter[leaf])
        {
            errors.Add(new VerificationProblem(
                VerificationCodes.Expired,
                $"the document timestamp {timestamp:O} lies outside the leaf certificate's validity {chain.DescribeValidity(leaf)}"));
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
        byte[] buffer = new byte[1 + HeadLength((ulong)context.Length) + context.Length + HeadLength((ulong)protectedHeader.Length)
            + protectedHeader.Length + HeadLength(0) + HeadLength((ulong)payload.Length) + payload.Length];
        buffer[0] = 0x84;
        int at = 1;
        at = WriteHead(buffer, at, 3, (ulong)context.Length);
        context.CopyTo(buffer.AsSpan(at));
        at += context.Length;
        at = WriteHead(buffer, at, 2, (ulong)protectedHeader.Length);
        protectedHeader.CopyTo(buffer.AsSpan(at));
        at += protectedHeader.Length;
        at = WriteHead(buffer, at, 2, 0);
        at = WriteHead(buffer, at, 2, (ulong)payload.Length);
        payload.CopyTo(buffer.AsSpan(at));
        return buffer;
    }

    // A CBOR head (RFC 8949 section 3): the initial byte, then the argument in 0, 1, 2 or 4 bytes.
    private static int HeadLength(ulong value) => value switch
    {
        < 24 => 1,
        <= byte.MaxValue => 2,
        <= ushort.MaxValue => 3,
        _ => 5,
    };

    private static int WriteHead(byte[] buffer, int at, int major, ulong value)
    {
        byte type = (byte)(major << 5);
        int length = HeadLength(value);
        buffer[at] = length switch
        {
            1 => (byte)(type | (byte)value),
            2 => (byte)(type | 24),
            3 => (byte)(type | 25),
            _ => (byte)(type | 26),
        };
        for (int i = 1; i < length; i++)
        {
            buffer[at + i] = (byte)(value >> (8 * (length - 1 - i)));
        }

        return at + length;
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

    private static void AddCertificateClaims(Dictionary<string, string> claims, NitroChain chain)
    {
        int leaf = chain.Count - 1;
        claims["certificate.subject"] = chain.Subjects[leaf];
        claims["certificate.not_before"] = chain.NotBefore[leaf].UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        claims["certificate.not_after"] = chain.NotAfter[leaf].UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
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

    /// <summary>
    /// What a document's certificates say, independent of the instant: cabundle[0] is the pinned root, the path
    /// leaf → cabundle[n-1] → ... → cabundle[0] is built by <see cref="CertificateChain"/> in exactly that order,
    /// and the leaf's key. Kept per exact certificate bytes, so a warm verification parses no certificate; validity
    /// is checked by the caller at each instant.
    /// </summary>
    private sealed class NitroChain
    {
        private const int Capacity = 256;

        private static readonly Lazy<X509Certificate2> s_root = new(NitroRoot.Load);
        private static readonly ConcurrentDictionary<string, NitroChain> s_chains = new(StringComparer.Ordinal);

        private NitroChain(VerificationProblem? loadProblem)
        {
            LoadProblem = loadProblem;
        }

        public VerificationProblem? LoadProblem { get; }

        public List<VerificationProblem> Problems { get; } = [];

        /// <summary>The leaf's key when it is an ECDSA key (shared: used only to verify).</summary>
        public ECDsa? LeafKey { get; private set; }

        public int Count => Subjects.Length;

        public string[] Subjects { get; private set; } = [];

        public DateTimeOffset[] NotBefore { get; private set; } = [];

        public DateTimeOffset[] NotAfter { get; private set; } = [];

        public string Name(int i) => i == Count - 1 ? "the leaf certificate" : $"cabundle[{i}]";

        public string DescribeValidity(int i) =>
            $"{NotBefore[i].UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}..{NotAfter[i].UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}";

        public static NitroChain For(UnverifiedNitroDocument document)
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            foreach (byte[] der in document.CaBundle.Append(document.Certificate))
            {
                hash.AppendData(BitConverter.GetBytes(der.Length));
                hash.AppendData(der);
            }

            string key = Convert.ToHexString(hash.GetHashAndReset());
            if (s_chains.TryGetValue(key, out NitroChain? chain))
            {
                return chain;
            }

            chain = Create(document);
            if (s_chains.Count >= Capacity)
            {
                s_chains.Clear();
            }

            s_chains.TryAdd(key, chain);
            return chain;
        }

        private static NitroChain Create(UnverifiedNitroDocument document)
        {
            // cabundle (root first) followed by the leaf.
            List<X509Certificate2> certificates = [];
            try
            {
                for (int i = 0; i <= document.CaBundle.Count; i++)
                {
                    byte[] der = i < document.CaBundle.Count ? document.CaBundle[i] : document.Certificate;
                    try
                    {
                        certificates.Add(X509CertificateLoader.LoadCertificate(der));
                    }
                    catch (CryptographicException)
                    {
                        string name = i < document.CaBundle.Count ? $"cabundle[{i}]" : "certificate";
                        return new NitroChain(new VerificationProblem(VerificationCodes.Malformed, $"{name} is not a DER X.509 certificate"));
                    }
                }

                var chain = new NitroChain(null);
                try
                {
                    chain.Subjects = [.. certificates.Select(c => c.Subject)];
                    chain.NotBefore = [.. certificates.Select(c => new DateTimeOffset(c.NotBefore.ToUniversalTime()))];
                    chain.NotAfter = [.. certificates.Select(c => new DateTimeOffset(c.NotAfter.ToUniversalTime()))];
                    chain.CheckPath(certificates);
                    chain.LeafKey = certificates[^1].GetECDsaPublicKey();
                }
                catch (CryptographicException e)
                {
                    return new NitroChain(new VerificationProblem(VerificationCodes.Malformed, $"a certificate's contents could not be decoded: {e.Message}"));
                }

                return chain;
            }
            finally
            {
                foreach (X509Certificate2 certificate in certificates)
                {
                    certificate.Dispose();
                }
            }
        }

        private void CheckPath(List<X509Certificate2> certificates)
        {
            X509Certificate2 root = s_root.Value;
            if (!NitroRoot.IsRoot(certificates[0].RawData))
            {
                Problems.Add(new VerificationProblem(
                    VerificationCodes.UntrustedRoot,
                    $"cabundle[0] ({certificates[0].Subject}) is not the AWS Nitro Enclaves Root-G1 (DER SHA-256 {NitroRoot.DerSha256})"));
                return;
            }

            X509Certificate2 leaf = certificates[^1];
            List<X509Certificate2> issuers = [.. certificates.Take(certificates.Count - 1).Reverse()];
            CertificatePath path = CertificateChain.Build(leaf, issuers.Take(issuers.Count - 1), root, new ChainRules(MaxCaBundle + 1, ExactPath: issuers));
            if (!path.IsValid)
            {
                // The path is leaf first; certificates are root first.
                int index = Math.Clamp(certificates.Count - 1 - path.FailedIndex, 0, certificates.Count - 1);
                Problems.Add(new VerificationProblem(
                    path.Failure == ChainFailure.UntrustedRoot ? VerificationCodes.UntrustedRoot : VerificationCodes.ChainInvalid,
                    $"{Name(index)} ({certificates[index].Subject}): {path.Message}"));
            }
        }
    }
}
