using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Enclave.AttestationVerifier.Endorsements;

/// <summary>
/// Certificates, CRLs and collateral documents offered to verify hardware evidence, recognised by content (not
/// by file name): PEM or DER X.509 certificates (a PEM file may hold a chain), PEM or DER CRLs, and JSON
/// documents (Intel TCB info, QE identity, dcap-qvl collateral, JWKS) kept as their exact text, because their
/// signatures cover the bytes as they are. Anything else is kept as an opaque blob.
/// Bounded: at most <see cref="MaxFiles"/> files of at most <see cref="MaxFileBytes"/> each.
/// A set does not change once made (its lists are copied; the bytes handed to it must not be modified
/// afterwards): verifiers keep what they parse of it per instance, so a service that reuses one set parses its
/// collateral once.
/// </summary>
public sealed class EndorsementSet
{
    public const int MaxFiles = 256;
    public const int MaxFileBytes = 4 * 1024 * 1024;

    private const string PemCertificateLabel = "CERTIFICATE";
    private const string PemCrlLabel = "X509 CRL";

    public EndorsementSet(
        IReadOnlyList<X509Certificate2> certificates,
        IReadOnlyList<EndorsementCrl> crls,
        IReadOnlyList<EndorsementDocument> documents,
        IReadOnlyList<EndorsementDocument> blobs)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        ArgumentNullException.ThrowIfNull(crls);
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(blobs);
        Certificates = [.. certificates];
        Crls = [.. crls];
        Documents = [.. documents];
        Blobs = [.. blobs];
    }

    public static EndorsementSet Empty { get; } = new([], [], [], []);

    /// <summary>Every certificate found, in file order and, within a PEM file, in the file's order.</summary>
    public IReadOnlyList<X509Certificate2> Certificates { get; }

    /// <summary>Every CRL found, as DER.</summary>
    public IReadOnlyList<EndorsementCrl> Crls { get; }

    /// <summary>Every JSON document found, with its exact bytes.</summary>
    public IReadOnlyList<EndorsementDocument> Documents { get; }

    /// <summary>Files that are neither certificates, CRLs nor JSON.</summary>
    public IReadOnlyList<EndorsementDocument> Blobs { get; }

    /// <summary>Loads files and folders (a folder's files, not recursively, in ordinal name order).</summary>
    /// <exception cref="EndorsementException">A path is missing, too large, or too many files are given.</exception>
    public static EndorsementSet Load(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        List<(string Name, byte[] Bytes)> files = [];
        foreach (string path in paths)
        {
            if (Directory.Exists(path))
            {
                foreach (string file in Directory.GetFiles(path).Order(StringComparer.Ordinal))
                {
                    files.Add((file, ReadBounded(file)));
                    CheckCount(files.Count);
                }
            }
            else if (File.Exists(path))
            {
                files.Add((path, ReadBounded(path)));
                CheckCount(files.Count);
            }
            else
            {
                throw new EndorsementException($"endorsement path '{path}' is neither a file nor a folder");
            }
        }

        return FromFiles(files);
    }

    /// <summary>Recognises each (name, bytes) pair by content.</summary>
    /// <exception cref="EndorsementException">A file claims to be PEM but a block does not decode.</exception>
    public static EndorsementSet FromFiles(IEnumerable<(string Name, byte[] Bytes)> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        List<X509Certificate2> certificates = [];
        List<EndorsementCrl> crls = [];
        List<EndorsementDocument> documents = [];
        List<EndorsementDocument> blobs = [];
        foreach ((string name, byte[] bytes) in files)
        {
            if (bytes.Length > MaxFileBytes)
            {
                throw new EndorsementException($"endorsement '{name}' is {bytes.Length} bytes; the limit is {MaxFileBytes}");
            }

            // JSON first: collateral JSON (dcap-qvl) carries PEM chains inside its strings.
            if (LooksLikeJson(bytes))
            {
                documents.Add(new EndorsementDocument(name, bytes));
            }
            else if (LooksLikePem(bytes))
            {
                ReadPem(name, bytes, certificates, crls);
            }
            else if (TryDerCertificate(bytes) is { } certificate)
            {
                certificates.Add(certificate);
            }
            else if (IsDerCrl(bytes))
            {
                crls.Add(new EndorsementCrl(name, bytes));
            }
            else
            {
                blobs.Add(new EndorsementDocument(name, bytes));
            }
        }

        return new EndorsementSet(certificates, crls, documents, blobs);
    }

    /// <summary>A copy with more certificates and CRLs appended (for chains carried inside the evidence).</summary>
    public EndorsementSet With(IEnumerable<X509Certificate2>? certificates = null, IEnumerable<EndorsementCrl>? crls = null) =>
        new([.. Certificates, .. certificates ?? []], [.. Crls, .. crls ?? []], Documents, Blobs);

    private static byte[] ReadBounded(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxFileBytes)
        {
            throw new EndorsementException($"endorsement '{path}' is {length} bytes; the limit is {MaxFileBytes}");
        }

        return File.ReadAllBytes(path);
    }

    private static void CheckCount(int count)
    {
        if (count > MaxFiles)
        {
            throw new EndorsementException($"more than {MaxFiles} endorsement files");
        }
    }

    private static bool LooksLikePem(byte[] bytes) =>
        bytes.AsSpan().IndexOf("-----BEGIN "u8) >= 0;

    private static bool LooksLikeJson(byte[] bytes)
    {
        ReadOnlySpan<byte> span = bytes.AsSpan();
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            span = span[3..];
        }

        span = span.TrimStart(" \t\r\n"u8);
        return span.Length > 0 && (span[0] == (byte)'{' || span[0] == (byte)'[');
    }

    private static void ReadPem(string name, byte[] bytes, List<X509Certificate2> certificates, List<EndorsementCrl> crls)
    {
        ReadOnlySpan<char> text = Encoding.ASCII.GetString(bytes);
        while (PemEncoding.TryFind(text, out PemFields fields))
        {
            string label = text[fields.Label].ToString();
            byte[] der = Convert.FromBase64String(text[fields.Base64Data].ToString());
            if (string.Equals(label, PemCertificateLabel, StringComparison.Ordinal))
            {
                certificates.Add(TryDerCertificate(der)
                    ?? throw new EndorsementException($"endorsement '{name}': a CERTIFICATE block is not an X.509 certificate"));
            }
            else if (string.Equals(label, PemCrlLabel, StringComparison.Ordinal))
            {
                if (!IsDerCrl(der))
                {
                    throw new EndorsementException($"endorsement '{name}': an X509 CRL block is not a CRL");
                }

                crls.Add(new EndorsementCrl(name, der));
            }

            text = text[fields.Location.End..];
        }
    }

    private static X509Certificate2? TryDerCertificate(byte[] bytes)
    {
        try
        {
            return X509CertificateLoader.LoadCertificate(bytes);
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    // CertificateList ::= SEQUENCE { tbsCertList SEQUENCE { [version INTEGER] signature AlgorithmIdentifier,
    // issuer Name, thisUpdate Time, ... }, signatureAlgorithm, signatureValue BIT STRING }
    private static bool IsDerCrl(byte[] bytes)
    {
        try
        {
            AsnReader outer = new AsnReader(bytes, AsnEncodingRules.DER).ReadSequence();
            AsnReader tbs = outer.ReadSequence();
            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                tbs.ReadInteger();
            }

            tbs.ReadSequence();
            tbs.ReadSequence();
            Asn1Tag time = tbs.PeekTag();
            return time.HasSameClassAndValue(Asn1Tag.UtcTime) || time.HasSameClassAndValue(Asn1Tag.GeneralizedTime);
        }
        catch (AsnContentException)
        {
            return false;
        }
    }
}

/// <summary>A CRL as DER, with the file it came from.</summary>
public sealed record EndorsementCrl(string Name, byte[] Der);

/// <summary>A collateral file's exact bytes, with the file it came from.</summary>
public sealed record EndorsementDocument(string Name, byte[] Bytes)
{
    public string Text => Encoding.UTF8.GetString(Bytes);
}

/// <summary>An endorsement path or file is unusable (missing, too large, undecodable PEM).</summary>
public sealed class EndorsementException(string message) : Exception(message);
