using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Enclave.AttestationVerifier.Tests.Support;

namespace Enclave.AttestationVerifier.Tests.Nitro;

/// <summary>One Nitro vector: the document, its expected.json, and helpers to rebuild it with edits.</summary>
internal sealed class NitroSample
{
    public const string Base = "base-nitro-validator-2024-11-30";
    public const string Beta = "evervault-beta-nondebug-2022-10-13";
    public const string Debug = "evervault-ga-debug-mode-2023-09-18";
    public const string DocInCert = "evervault-nondebug-doc-in-cert-2023-01-18";

    public static readonly string[] All = [Base, Beta, Debug, DocInCert];

    private static readonly Dictionary<string, NitroSample> s_cache = new(StringComparer.Ordinal);

    private NitroSample(string name)
    {
        Name = name;
        Document = File.ReadAllBytes(TestData.PathOf("nitro", name, "attestation_doc.cbor"));
        Expected = ExpectedFields.Load("nitro", name);
        At = ExpectedFields.VerificationTime(Expected);
    }

    public string Name { get; }

    public byte[] Document { get; }

    public JsonElement Expected { get; }

    public DateTimeOffset At { get; }

    public static NitroSample Load(string name)
    {
        lock (s_cache)
        {
            if (!s_cache.TryGetValue(name, out NitroSample? sample))
            {
                sample = new NitroSample(name);
                s_cache[name] = sample;
            }

            return sample;
        }
    }

    /// <summary>The sample used as the source of "wrong" certificates for this one.</summary>
    public NitroSample Other() => Load(Name == Base ? DocInCert : Base);

    public List<object?> Envelope() => (List<object?>)TestCbor.Decode(Document)!;

    public CborMap Payload() => (CborMap)TestCbor.Decode((byte[])Envelope()[2]!)!;

    /// <summary>The document with its payload edited and everything else (signature included) unchanged.</summary>
    public byte[] WithPayload(Action<CborMap> edit)
    {
        List<object?> envelope = Envelope();
        CborMap payload = (CborMap)TestCbor.Decode((byte[])envelope[2]!)!;
        edit(payload);
        envelope[2] = TestCbor.Encode(payload);
        return TestCbor.Encode(envelope);
    }

    public byte[] WithEnvelope(Action<List<object?>> edit)
    {
        List<object?> envelope = Envelope();
        edit(envelope);
        return TestCbor.Encode(envelope);
    }

    public byte[] LeafDer => (byte[])Payload()["certificate"]!;

    public List<byte[]> CaBundle => ((List<object?>)Payload()["cabundle"]!).Cast<byte[]>().ToList();

    /// <summary>cabundle (root first) then the leaf.</summary>
    public List<X509Certificate2> Chain() =>
        [.. CaBundle.Select(der => X509CertificateLoader.LoadCertificate(der)), X509CertificateLoader.LoadCertificate(LeafDer)];

    /// <summary>A copy of the document with the byte at the given offset XOR 0x01.</summary>
    public byte[] FlipAt(int offset)
    {
        byte[] copy = (byte[])Document.Clone();
        copy[offset] ^= 0x01;
        return copy;
    }

    /// <summary>Offset of <paramref name="value"/> inside the document (it must occur exactly once).</summary>
    public int OffsetOf(byte[] value)
    {
        int offset = Document.AsSpan().IndexOf(value);
        Assert.True(offset >= 0);
        Assert.Equal(-1, Document.AsSpan(offset + 1).IndexOf(value));
        return offset;
    }
}
