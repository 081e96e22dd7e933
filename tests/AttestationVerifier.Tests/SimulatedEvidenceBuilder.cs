// Writes simulated evidence (docs/formats.md section 1) independently of the product, field by field.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Enclave.AttestationVerifier.Tests;

internal sealed class SimulatedEvidenceBuilder
{
    public const int HeaderLength = 148;

    public static readonly (string Name, int Offset, int Length)[] SignedHeaderFields =
    [
        ("magic", 0, 8),
        ("version", 8, 2),
        ("flags", 10, 2),
        ("product id", 12, 2),
        ("svn", 14, 2),
        ("measurement", 16, 32),
        ("signer", 48, 32),
        ("report data", 80, 64),
        ("certificate length", 144, 4),
    ];

    private readonly ECDsa _platformKey;
    private readonly byte[] _certificate;

    public SimulatedEvidenceBuilder(ECDsa platformKey, byte[] platformCertificateDer)
    {
        _platformKey = platformKey;
        _certificate = platformCertificateDer;
    }

    public ushort Version { get; set; } = 1;

    public ushort Flags { get; set; }

    public ushort ProductId { get; set; } = 7;

    public ushort Svn { get; set; } = 3;

    public byte[] Measurement { get; set; } = SHA256.HashData("Enclave.EnclaveApp.dll 00\n"u8);

    public byte[] Signer { get; set; } = SHA256.HashData(Encoding.UTF8.GetBytes("enclave-simulated-signer:Enclave.EnclaveApp"));

    public byte[] ReportData { get; set; } = new byte[64];

    public SimulatedEvidenceBuilder ForRuntimeData(byte[] runtimeData)
    {
        ReportData = SHA512.HashData(runtimeData);
        return this;
    }

    public byte[] Build()
    {
        int length = HeaderLength + _certificate.Length + 64;
        byte[] evidence = new byte[length];
        "ENCSIMQ1"u8.CopyTo(evidence);
        BinaryPrimitives.WriteUInt16LittleEndian(evidence.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt16LittleEndian(evidence.AsSpan(10), Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(evidence.AsSpan(12), ProductId);
        BinaryPrimitives.WriteUInt16LittleEndian(evidence.AsSpan(14), Svn);
        Measurement.CopyTo(evidence, 16);
        Signer.CopyTo(evidence, 48);
        ReportData.CopyTo(evidence, 80);
        BinaryPrimitives.WriteUInt32LittleEndian(evidence.AsSpan(144), (uint)_certificate.Length);
        _certificate.CopyTo(evidence, HeaderLength);
        Resign(evidence, _platformKey);
        return evidence;
    }

    /// <summary>Re-signs [0, 148 + L) in place, so that a test can change a field and keep the signature valid.</summary>
    public static void Resign(byte[] evidence, ECDsa key)
    {
        int signedLength = evidence.Length - 64;
        byte[] signature = key.SignData(evidence.AsSpan(0, signedLength), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        signature.CopyTo(evidence, signedLength);
    }
}
