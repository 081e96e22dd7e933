using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Enclave.AttestationVerifier.Endorsements;

namespace Enclave.AttestationVerifier.Tests.Hardware;

public sealed class EndorsementSetTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("endorsements-").FullName;
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly X509Certificate2 _root;

    public EndorsementSetTests()
    {
        var request = new CertificateRequest("CN=Test Root", _key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        _root = request.CreateSelfSigned(DateTimeOffset.UnixEpoch.AddYears(40), DateTimeOffset.UnixEpoch.AddYears(60));
    }

    [Fact]
    public void Recognises_files_by_content_not_by_name()
    {
        byte[] crl = Crl();
        Write("a.bin", _root.RawData);
        Write("b.txt", crl);
        Write("c.dat", Encoding.UTF8.GetBytes("  {\"tcbInfo\":{\"id\":\"SGX\"},\"signature\":\"00\"}"));
        Write("d.pem", Encoding.ASCII.GetBytes(_root.ExportCertificatePem() + "\n" + PemEncoding.WriteString("X509 CRL", crl) + "\n" + _root.ExportCertificatePem()));
        Write("e.cbor", [0x84, 0x44, 0xa1, 0x01, 0x38, 0x22]);

        EndorsementSet set = EndorsementSet.Load([_folder]);

        Assert.Equal(3, set.Certificates.Count);
        Assert.All(set.Certificates, c => Assert.Equal(_root.Thumbprint, c.Thumbprint));
        Assert.Equal(2, set.Crls.Count);
        Assert.All(set.Crls, c => Assert.Equal(crl, c.Der));
        EndorsementDocument document = Assert.Single(set.Documents);
        Assert.StartsWith("  {\"tcbInfo\"", document.Text, StringComparison.Ordinal);
        EndorsementDocument blob = Assert.Single(set.Blobs);
        Assert.EndsWith("e.cbor", blob.Name, StringComparison.Ordinal);
    }

    [Fact]
    public void Keeps_json_bytes_exactly_as_stored()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("{\"b\": 1,   \"a\":\"\\u0041\"}\n");
        EndorsementSet set = EndorsementSet.FromFiles([("x", bytes)]);
        Assert.Equal(bytes, Assert.Single(set.Documents).Bytes);
    }

    [Fact]
    public void A_pem_certificate_block_that_is_not_a_certificate_is_refused_with_its_file_name()
    {
        string pem = PemEncoding.WriteString("CERTIFICATE", [0x30, 0x03, 0x02, 0x01, 0x01]);
        var ex = Assert.Throws<EndorsementException>(() => EndorsementSet.FromFiles([("broken.pem", Encoding.ASCII.GetBytes(pem))]));
        Assert.Contains("broken.pem", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_path_is_refused()
    {
        var ex = Assert.Throws<EndorsementException>(() => EndorsementSet.Load([Path.Combine(_folder, "absent")]));
        Assert.Contains("absent", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_oversized_file_is_refused_before_it_is_read()
    {
        string path = Path.Combine(_folder, "huge.bin");
        using (FileStream stream = File.Create(path))
        {
            stream.SetLength(EndorsementSet.MaxFileBytes + 1L);
        }

        var ex = Assert.Throws<EndorsementException>(() => EndorsementSet.Load([path]));
        Assert.Contains("limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Too_many_files_are_refused()
    {
        for (int i = 0; i <= EndorsementSet.MaxFiles; i++)
        {
            Write($"f{i:D4}", [1]);
        }

        Assert.Throws<EndorsementException>(() => EndorsementSet.Load([_folder]));
    }

    [Fact]
    public void Garbage_is_a_blob_not_a_certificate_or_crl()
    {
        EndorsementSet set = EndorsementSet.FromFiles([("g", [0x30, 0x82, 0xff, 0xff, 0x00])]);
        Assert.Empty(set.Certificates);
        Assert.Empty(set.Crls);
        Assert.Single(set.Blobs);
    }

    public void Dispose()
    {
        _root.Dispose();
        _key.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    private byte[] Crl()
    {
        var builder = new CertificateRevocationListBuilder();
        builder.AddEntry([1, 2, 3], DateTimeOffset.UnixEpoch.AddYears(45));
        return builder.Build(_root, 1, DateTimeOffset.UnixEpoch.AddYears(50), HashAlgorithmName.SHA256, null, DateTimeOffset.UnixEpoch.AddYears(46));
    }

    private void Write(string name, byte[] bytes) => File.WriteAllBytes(Path.Combine(_folder, name), bytes);
}
