// The simulated enclave platform: it measures the enclave's code and signs reports with a platform key certified
// by a simulated root (docs/formats.md section 1). It stands in for the CPU's quoting machinery during local
// development and offers no protection from the host, which holds the platform key. Everything it produces is
// labelled SIMULATED downstream.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Enclave.Crypto;

namespace Enclave.EnclaveApp.Attestation;

public sealed class SimulatedPlatform : IEvidenceProvider, IDisposable
{
    public const string EvidenceFormat = "simulated";
    public const ushort ProductId = 1;
    public const ushort SecurityVersion = 1;
    private const int SignedPrefixLength = 148;
    private const int MaxCertificateLength = 8192;
    private static readonly byte[] s_magic = Encoding.ASCII.GetBytes("ENCSIMQ1");

    private readonly ECDsa _platformKey;
    private readonly byte[] _certificate;

    private SimulatedPlatform(ECDsa platformKey, byte[] certificate, byte[] measurement, string platformId)
    {
        _platformKey = platformKey;
        _certificate = certificate;
        Measurement = measurement;
        PlatformId = platformId;
    }

    public byte[] Measurement { get; }

    public static byte[] Signer { get; } = SHA256.HashData(Encoding.UTF8.GetBytes("enclave-simulated-signer:Enclave.EnclaveApp"));

    public string PlatformId { get; }

    string IEvidenceProvider.Format => EvidenceFormat;

    /// <summary>Always: the platform key is a file.</summary>
    public bool IsAvailable => true;

    public byte[] GetEvidence(ReadOnlySpan<byte> reportData64) => CreateEvidence(reportData64);

    /// <summary>Loads platform.key and platform.crt from <paramref name="platformDirectory"/> and measures <paramref name="codeDirectory"/>.</summary>
    public static SimulatedPlatform Load(string platformDirectory, string codeDirectory)
    {
        string keyPath = Path.Combine(platformDirectory, "platform.key");
        string certPath = Path.Combine(platformDirectory, "platform.crt");
        using X509Certificate2 certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certPath));
        byte[] der = certificate.RawData;
        if (der.Length > MaxCertificateLength)
        {
            throw new InvalidOperationException($"platform certificate is {der.Length} bytes; at most {MaxCertificateLength}");
        }

        var key = ECDsa.Create();
        key.ImportFromPem(File.ReadAllText(keyPath));
        string platformId = Convert.ToHexStringLower(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo()));
        return new SimulatedPlatform(key, der, CodeManifest.Measure(codeDirectory), platformId);
    }

    /// <summary>Produces evidence whose report data is <paramref name="reportData"/> (64 bytes).</summary>
    public byte[] CreateEvidence(ReadOnlySpan<byte> reportData, bool debug = false)
    {
        if (reportData.Length != 64)
        {
            throw new ArgumentException("report data is 64 bytes", nameof(reportData));
        }

        byte[] evidence = new byte[SignedPrefixLength + _certificate.Length + 64];
        Span<byte> span = evidence;
        s_magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(span[10..], debug ? (ushort)1 : (ushort)0);
        BinaryPrimitives.WriteUInt16LittleEndian(span[12..], ProductId);
        BinaryPrimitives.WriteUInt16LittleEndian(span[14..], SecurityVersion);
        Measurement.CopyTo(span[16..]);
        Signer.CopyTo(span[48..]);
        reportData.CopyTo(span[80..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[144..], (uint)_certificate.Length);
        _certificate.CopyTo(span[SignedPrefixLength..]);
        int signedLength = SignedPrefixLength + _certificate.Length;
        if (!_platformKey.TrySignData(span[..signedLength], span[signedLength..], HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation, out int written) || written != 64)
        {
            throw new CryptographicException("the platform key did not produce a 64-byte P-256 signature");
        }

        return evidence;
    }

    public void Dispose() => _platformKey.Dispose();
}
