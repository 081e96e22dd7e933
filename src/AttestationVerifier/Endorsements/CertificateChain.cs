// The one X.509 path builder of every verifier (SGX/TDX PCK and collateral signers, SEV-SNP VCEK/VLEK, Nitro
// cabundle, MAA JWKS x5c, simulated platform certificates). The path is built and its signatures checked by
// X509Chain with CustomRootTrust holding only the pinned root of the vendor (no system store, no downloads, no
// online revocation), then the checks RFC 5280 section 6.1 and the vendors specify are made explicitly on the
// built path: the root is byte-for-byte the pinned one (a self-issued certificate offered in its place is an
// untrusted root); every issuer has basicConstraints cA = TRUE, a pathLenConstraint its path respects, and, when
// it has keyUsage, keyCertSign; the leaf has digitalSignature where the vendor says so; the path is no longer
// than allowed and, where the vendor fixes the order (Nitro cabundle), is exactly the certificates offered;
// where the vendor fixes the signature algorithm (AMD: RSASSA-PSS with SHA-384), every certificate below the
// root is signed with it. Building depends only on the certificates, so a built path is kept and reused: by the
// identity of the certificate objects (X509Certificate2 is immutable) so a warm call hashes nothing, and by the
// SHA-256 of the certificates and rules for equal certificates loaded anew. Validity (notBefore/notAfter) is
// never cached: callers check it at each call's instant.
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Formats.Asn1;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements;

/// <summary>What a vendor requires of a path besides a valid signature on every link.</summary>
/// <param name="MaxLength">Most certificates in the path, root included.</param>
/// <param name="LeafDigitalSignature">The leaf must have keyUsage with digitalSignature.</param>
/// <param name="ExactPath">When set, the path must be exactly these certificates (leaf's issuer first, the root
/// last may be omitted), in this order.</param>
/// <param name="Signature">The algorithm every certificate below the root must be signed with.</param>
internal sealed record ChainRules(
    int MaxLength,
    bool LeafDigitalSignature = false,
    IReadOnlyList<X509Certificate2>? ExactPath = null,
    ChainSignature Signature = ChainSignature.Any);

/// <summary>A signature algorithm a vendor requires on its certificates.</summary>
internal enum ChainSignature
{
    /// <summary>Whatever verifies (the vendor's key type already limits it).</summary>
    Any,

    /// <summary>RSASSA-PSS with SHA-384 (AMD SEV-SNP: ARK, ASK, ASVK, VCEK, VLEK).</summary>
    RsaPssSha384,
}

/// <summary>Why a path does not build; the caller maps each to its vendor's code.</summary>
internal enum ChainFailure
{
    None,

    /// <summary>The path ends in (or offers) a self-issued certificate that is not the pinned root.</summary>
    UntrustedRoot,

    /// <summary>No offered certificate (nor the root) names and signs <see cref="CertificatePath.FailedIndex"/>.</summary>
    NoIssuer,

    /// <summary>A signature does not verify with its issuer's key.</summary>
    SignatureInvalid,

    /// <summary>An issuer is not a CA (basicConstraints), lacks keyCertSign, or its pathLenConstraint is exceeded.</summary>
    NotAnIssuer,

    /// <summary>The leaf lacks digitalSignature.</summary>
    LeafKeyUsage,

    /// <summary>The path is longer than allowed or not the exact certificates offered.</summary>
    WrongPath,

    /// <summary>A certificate is signed with another algorithm than <see cref="ChainRules.Signature"/>.</summary>
    SignatureAlgorithm,
}

/// <summary>A built path (leaf first, root last), or why none could be built.</summary>
internal sealed class CertificatePath
{
    private readonly DateTimeOffset[] _notBefore;
    private readonly DateTimeOffset[] _notAfter;

    public CertificatePath(IReadOnlyList<X509Certificate2> chain, ChainFailure failure, int failedIndex, string? message)
    {
        Chain = chain;
        Failure = failure;
        FailedIndex = failedIndex;
        Message = message;
        _notBefore = [.. chain.Select(c => new DateTimeOffset(c.NotBefore.ToUniversalTime()))];
        _notAfter = [.. chain.Select(c => new DateTimeOffset(c.NotAfter.ToUniversalTime()))];
    }

    /// <summary>The certificates of the path as far as it was built (leaf first).</summary>
    public IReadOnlyList<X509Certificate2> Chain { get; }

    public ChainFailure Failure { get; }

    /// <summary>Index in <see cref="Chain"/> of the certificate the failure is about.</summary>
    public int FailedIndex { get; }

    public string? Message { get; }

    public bool IsValid => Failure == ChainFailure.None;

    public DateTimeOffset NotBefore(int index) => _notBefore[index];

    public DateTimeOffset NotAfter(int index) => _notAfter[index];

    /// <summary>The first certificate (leaf first) not valid at <paramref name="at"/> (bounds inclusive), or -1.</summary>
    public int FirstInvalidAt(DateTimeOffset at)
    {
        for (int i = 0; i < _notBefore.Length; i++)
        {
            if (at < _notBefore[i] || at > _notAfter[i])
            {
                return i;
            }
        }

        return -1;
    }

    public string DescribeValidity(int index) =>
        $"{_notBefore[index].UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}..{_notAfter[index].UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}";
}

/// <summary>Builds <see cref="CertificatePath"/>s; see the file header.</summary>
internal static class CertificateChain
{
    public const int CacheCapacity = 1024;

    public const string RsaPssOid = "1.2.840.113549.1.1.10";
    public const string Sha384Oid = "2.16.840.1.101.3.4.2.2";

    private static readonly ConcurrentDictionary<Key, CertificatePath> s_built = new();
    private static readonly ConditionalWeakTable<X509Certificate2, RecentPaths> s_byLeaf = new();

    /// <summary>Builds leaf → ... → <paramref name="root"/> from <paramref name="pool"/>.</summary>
    public static CertificatePath Build(X509Certificate2 leaf, IEnumerable<X509Certificate2> pool, X509Certificate2 root, ChainRules rules)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(rules);
        X509Certificate2[] offered = [.. pool];
        RecentPaths recent = s_byLeaf.GetValue(leaf, static _ => new RecentPaths());
        if (recent.Find(offered, root, rules) is { } known)
        {
            return known;
        }

        Key key = Key.Of(leaf, offered, root, rules);
        if (!s_built.TryGetValue(key, out CertificatePath? path))
        {
            // The kept path owns copies, so that callers may dispose the certificates they passed.
            path = BuildCore(Copy(leaf), [.. offered.Select(Copy)], Copy(root), rules);
            if (s_built.Count >= CacheCapacity)
            {
                s_built.Clear();
            }

            s_built.TryAdd(key, path);
        }

        recent.Add(offered, root, rules, path);
        return path;
    }

    /// <summary>Forgets every built path (tests and benchmarks of cold verification).</summary>
    public static void Clear()
    {
        s_built.Clear();
        s_byLeaf.Clear();
    }

    /// <summary>The algorithm OID of an AlgorithmIdentifier and, for RSASSA-PSS, the hash OID of its parameters.</summary>
    /// <exception cref="AsnContentException">The AlgorithmIdentifier is not well-formed.</exception>
    public static (string Oid, string? PssHash) ReadSignatureAlgorithm(AsnReader algorithm)
    {
        ArgumentNullException.ThrowIfNull(algorithm);
        string oid = algorithm.ReadObjectIdentifier();
        string? pssHash = null;
        if (string.Equals(oid, RsaPssOid, StringComparison.Ordinal) && algorithm.HasData)
        {
            // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier, ... } (RFC 4055 section 3.1)
            AsnReader parameters = algorithm.ReadSequence();
            if (parameters.HasData && parameters.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                AsnReader hash = parameters.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0)).ReadSequence();
                pssHash = hash.ReadObjectIdentifier();
            }
        }

        return (oid, pssHash);
    }

    /// <summary>Whether the certificate's signatureAlgorithm is the one <paramref name="required"/> names.</summary>
    private static bool IsSignedWith(X509Certificate2 certificate, ChainSignature required)
    {
        if (required == ChainSignature.Any)
        {
            return true;
        }

        try
        {
            // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
            AsnReader outer = new AsnReader(certificate.RawDataMemory, AsnEncodingRules.DER).ReadSequence();
            outer.ReadEncodedValue();
            (string oid, string? hash) = ReadSignatureAlgorithm(outer.ReadSequence());
            return string.Equals(oid, RsaPssOid, StringComparison.Ordinal) && string.Equals(hash, Sha384Oid, StringComparison.Ordinal);
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    private static X509Certificate2 Copy(X509Certificate2 certificate) => X509CertificateLoader.LoadCertificate(certificate.RawData);

    private static CertificatePath BuildCore(X509Certificate2 leaf, List<X509Certificate2> offered, X509Certificate2 root, ChainRules rules)
    {
        if (IsSelfIssued(leaf) && !IsRoot(leaf, root))
        {
            return Fail([leaf], ChainFailure.UntrustedRoot, 0, $"'{leaf.Subject}' is self-issued and not the pinned root");
        }

        using X509Chain chain = NewChain(root, offered);
        bool built = chain.Build(leaf);
        List<X509Certificate2> elements = [.. chain.ChainElements.Select(e => e.Certificate)];

        // An offered self-issued certificate other than the pinned root whose key issues the top of the path (a
        // look-alike or substituted root) makes the path untrusted, whichever way X509Chain went.
        X509Certificate2 top = elements.Count > 1 && IsSelfIssued(elements[^1]) ? elements[^2] : elements[^1];
        foreach (X509Certificate2 candidate in offered.Where(c => IsSelfIssued(c) && !IsRoot(c, root)))
        {
            if (top.IssuerName.RawData.AsSpan().SequenceEqual(candidate.SubjectName.RawData))
            {
                using X509Chain other = NewChain(candidate, offered);
                if (other.Build(top))
                {
                    return Fail(elements, ChainFailure.UntrustedRoot, elements.Count - 1,
                        $"the path ends in '{candidate.Subject}' (DER SHA-256 {Convert.ToHexStringLower(SHA256.HashData(candidate.RawData))}), not the pinned root (DER SHA-256 {Convert.ToHexStringLower(SHA256.HashData(root.RawData))})");
                }
            }
        }

        if (!built)
        {
            for (int i = 0; i < chain.ChainElements.Count; i++)
            {
                X509ChainStatusFlags flags = chain.ChainElements[i].ChainElementStatus.Aggregate(X509ChainStatusFlags.NoError, (a, s) => a | s.Status)
                    & ~(X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.CtlNotTimeValid);
                if ((flags & X509ChainStatusFlags.NotSignatureValid) != 0)
                {
                    return Fail(elements, ChainFailure.SignatureInvalid, i, $"the signature of '{elements[i].Subject}' does not verify with its issuer '{elements[i].Issuer}'");
                }

                if ((flags & (X509ChainStatusFlags.InvalidBasicConstraints | X509ChainStatusFlags.NotValidForUsage)) != 0 && i > 0)
                {
                    return Fail(elements, ChainFailure.NotAnIssuer, i, $"'{elements[i].Subject}' may not issue certificates");
                }
            }

            X509Certificate2 last = elements[^1];
            X509ChainStatusFlags all2 = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (a, s) => a | s.Status)
                & ~(X509ChainStatusFlags.NotTimeValid | X509ChainStatusFlags.CtlNotTimeValid);
            if (!IsSelfIssued(top) && (all2 & (X509ChainStatusFlags.PartialChain | X509ChainStatusFlags.UntrustedRoot)) != 0)
            {
                // Tell a wrong signature from a missing issuer: an offered certificate (or the root) names the issuer.
                bool named = offered.Append(root).Any(c => c.SubjectName.RawData.AsSpan().SequenceEqual(last.IssuerName.RawData));
                return named
                    ? Fail(elements, ChainFailure.SignatureInvalid, elements.Count - 1, $"the signature of '{last.Subject}' does not verify with any certificate named '{last.Issuer}'")
                    : Fail(elements, ChainFailure.NoIssuer, elements.Count - 1, $"no certificate for issuer '{last.Issuer}' of '{last.Subject}'");
            }

            string status = string.Join("; ", chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation.Trim()}"));
            return Fail(elements, ChainFailure.SignatureInvalid, elements.Count - 1, $"the path does not build ({status})");
        }

        if (!IsRoot(elements[^1], root))
        {
            return Fail(elements, ChainFailure.UntrustedRoot, elements.Count - 1, $"the path ends in '{elements[^1].Subject}', not the pinned root");
        }

        if (elements.Count > rules.MaxLength)
        {
            return Fail(elements, ChainFailure.WrongPath, rules.MaxLength, $"the path is longer than {rules.MaxLength} certificates");
        }

        if (rules.ExactPath is { } exact)
        {
            List<X509Certificate2> expected = [leaf, .. exact];
            if (!IsRoot(expected[^1], root))
            {
                expected.Add(root);
            }

            for (int i = 0; i < Math.Max(expected.Count, elements.Count); i++)
            {
                if (i >= expected.Count || i >= elements.Count || !expected[i].RawData.AsSpan().SequenceEqual(elements[i].RawData))
                {
                    int at = Math.Min(i, elements.Count - 1);
                    return Fail(elements, ChainFailure.WrongPath, Math.Max(at - 1, 0), $"'{elements[Math.Max(at - 1, 0)].Subject}' is not issued by the certificate offered after it");
                }
            }
        }

        for (int i = 0; i < elements.Count - 1; i++)
        {
            if (!IsSignedWith(elements[i], rules.Signature))
            {
                return Fail(elements, ChainFailure.SignatureAlgorithm, i, $"'{elements[i].Subject}' is not signed with RSASSA-PSS SHA-384");
            }
        }

        // RFC 5280 section 6.1.4 (k), (l), (n): every issuer is a CA, its pathLenConstraint counts the
        // non-self-issued intermediates below it, and a keyUsage it carries allows keyCertSign.
        for (int i = 1; i < elements.Count; i++)
        {
            X509Certificate2 issuer = elements[i];
            X509BasicConstraintsExtension? constraints = issuer.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
            if (constraints is not { CertificateAuthority: true })
            {
                return Fail(elements, ChainFailure.NotAnIssuer, i, $"issuer '{issuer.Subject}' is not a CA (basicConstraints)");
            }

            int below = elements.Take(i).Skip(1).Count(c => !IsSelfIssued(c));
            if (constraints.HasPathLengthConstraint && below > constraints.PathLengthConstraint)
            {
                return Fail(elements, ChainFailure.NotAnIssuer, i, $"issuer '{issuer.Subject}' allows {constraints.PathLengthConstraint} intermediate certificates below it, the path has {below}");
            }

            if (issuer.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage && (usage.KeyUsages & X509KeyUsageFlags.KeyCertSign) == 0)
            {
                return Fail(elements, ChainFailure.NotAnIssuer, i, $"issuer '{issuer.Subject}' lacks keyCertSign (keyUsage)");
            }
        }

        if (rules.LeafDigitalSignature
            && (leaf.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is not { } leafUsage || (leafUsage.KeyUsages & X509KeyUsageFlags.DigitalSignature) == 0))
        {
            return Fail(elements, ChainFailure.LeafKeyUsage, 0, $"'{leaf.Subject}' does not allow digitalSignature (keyUsage)");
        }

        return new CertificatePath(elements, ChainFailure.None, -1, null);
    }

    private static X509Chain NewChain(X509Certificate2 anchor, List<X509Certificate2> offered)
    {
        X509Chain chain = new();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(anchor);
        chain.ChainPolicy.ExtraStore.AddRange(offered.Where(c => !IsSelfIssued(c)).ToArray());
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;

        // Validity is checked by the caller at each instant; the path itself does not depend on time.
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid | X509VerificationFlags.IgnoreCtlNotTimeValid;
        chain.ChainPolicy.VerificationTime = anchor.NotBefore;
        return chain;
    }

    private static CertificatePath Fail(List<X509Certificate2> chain, ChainFailure failure, int index, string message) =>
        new(chain, failure, index, message);

    private static bool IsSelfIssued(X509Certificate2 certificate) =>
        certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData);

    private static bool IsRoot(X509Certificate2 certificate, X509Certificate2 root) =>
        certificate.RawData.AsSpan().SequenceEqual(root.RawData);

    /// <summary>The last few paths built for one leaf object, found by the identity of the pool and root objects.</summary>
    private sealed class RecentPaths
    {
        private const int Capacity = 8;

        private readonly Lock _lock = new();
        private readonly List<(X509Certificate2[] Pool, X509Certificate2 Root, ChainRules Rules, CertificatePath Path)> _paths = [];

        public CertificatePath? Find(X509Certificate2[] pool, X509Certificate2 root, ChainRules rules)
        {
            lock (_lock)
            {
                foreach ((X509Certificate2[] knownPool, X509Certificate2 knownRoot, ChainRules knownRules, CertificatePath path) in _paths)
                {
                    if (ReferenceEquals(knownRoot, root) && knownRules.Equals(rules) && SameObjects(knownPool, pool))
                    {
                        return path;
                    }
                }

                return null;
            }
        }

        public void Add(X509Certificate2[] pool, X509Certificate2 root, ChainRules rules, CertificatePath path)
        {
            lock (_lock)
            {
                if (_paths.Count >= Capacity)
                {
                    _paths.RemoveAt(0);
                }

                _paths.Add((pool, root, rules, path));
            }
        }

        private static bool SameObjects(X509Certificate2[] a, X509Certificate2[] b)
        {
            if (a.Length != b.Length)
            {
                return false;
            }

            for (int i = 0; i < a.Length; i++)
            {
                if (!ReferenceEquals(a[i], b[i]))
                {
                    return false;
                }
            }

            return true;
        }
    }

    private readonly record struct Key(ulong A, ulong B, ulong C, ulong D)
    {
        public static Key Of(X509Certificate2 leaf, X509Certificate2[] pool, X509Certificate2 root, ChainRules rules)
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            byte[] number = new byte[8];
            void Append(ReadOnlySpan<byte> bytes)
            {
                BinaryPrimitives.WriteInt64BigEndian(number, bytes.Length);
                hash.AppendData(number);
                hash.AppendData(bytes);
            }

            Append(root.RawDataMemory.Span);
            Append(leaf.RawDataMemory.Span);
            BinaryPrimitives.WriteInt64BigEndian(number, pool.Length);
            hash.AppendData(number);
            foreach (X509Certificate2 certificate in pool)
            {
                Append(certificate.RawDataMemory.Span);
            }

            BinaryPrimitives.WriteInt64BigEndian(number, ((long)rules.MaxLength << 8) | ((long)rules.Signature << 1) | (rules.LeafDigitalSignature ? 1L : 0L));
            hash.AppendData(number);
            if (rules.ExactPath is { } exact)
            {
                hash.AppendData("exact"u8);
                foreach (X509Certificate2 certificate in exact)
                {
                    Append(certificate.RawDataMemory.Span);
                }
            }

            Span<byte> value = stackalloc byte[32];
            hash.GetHashAndReset(value);
            return new Key(
                BinaryPrimitives.ReadUInt64LittleEndian(value),
                BinaryPrimitives.ReadUInt64LittleEndian(value[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(value[16..]),
                BinaryPrimitives.ReadUInt64LittleEndian(value[24..]));
        }
    }
}
