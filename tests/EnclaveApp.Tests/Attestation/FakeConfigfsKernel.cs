using System.Globalization;
using System.Text;
using Enclave.EnclaveApp.Attestation;

namespace Enclave.EnclaveApp.Tests.Attestation;

/// <summary>
/// Stands in for the kernel behind /sys/kernel/config/tsm/report, over a folder in the temp directory: an entry
/// created with mkdir is populated with provider, generation, inblob, privlevel, outblob and auxblob; each write
/// to inblob or privlevel increments generation, and the outblob is produced (pre-filled) when inblob is
/// written, so that reading it returns the report for that inblob. Can simulate a concurrent writer.
/// </summary>
internal sealed class FakeConfigfsKernel : ITsmReportFiles, IDisposable
{
    private readonly ConfigfsFiles _files;
    private readonly Func<byte[], byte[]> _report;

    public FakeConfigfsKernel(string? provider, Func<byte[], byte[]> report, byte[]? auxBlob = null)
    {
        Root = Path.Combine(Path.GetTempPath(), "enclave-tsm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        _files = new ConfigfsFiles(Root);
        Provider = provider;
        _report = report;
        AuxBlob = auxBlob;
    }

    public string Root { get; }

    public string? Provider { get; }

    public byte[]? AuxBlob { get; }

    /// <summary>Extra generation increments applied by a "concurrent writer" when inblob is written.</summary>
    public int RaceOnInblobWrite { get; set; }

    /// <summary>Extra generation increments applied by a "concurrent writer" while outblob is read.</summary>
    public int RaceOnOutblobRead { get; set; }

    public List<string> Created { get; } = [];

    public List<string> Removed { get; } = [];

    public List<byte[]> InblobsWritten { get; } = [];

    public List<string> PrivlevelsWritten { get; } = [];

    public List<string> AttributesRead { get; } = [];

    public void CreateEntry(string entry)
    {
        _files.CreateEntry(entry);
        Created.Add(entry);
        string path = Path.Combine(Root, entry);
        if (Provider is not null)
        {
            File.WriteAllText(Path.Combine(path, "provider"), Provider + "\n");
        }

        File.WriteAllText(Path.Combine(path, "generation"), "0\n");
        File.WriteAllBytes(Path.Combine(path, "inblob"), []);
        File.WriteAllBytes(Path.Combine(path, "privlevel"), []);
        File.WriteAllBytes(Path.Combine(path, "outblob"), []);
        if (AuxBlob is not null)
        {
            File.WriteAllBytes(Path.Combine(path, "auxblob"), AuxBlob);
        }
    }

    public void RemoveEntry(string entry)
    {
        Directory.Delete(Path.Combine(Root, entry), recursive: true);
        Removed.Add(entry);
    }

    public bool Exists(string entry, string attribute) => _files.Exists(entry, attribute);

    public byte[] Read(string entry, string attribute, int maxBytes)
    {
        AttributesRead.Add(attribute);
        byte[] value = _files.Read(entry, attribute, maxBytes);
        if (attribute == "outblob" && RaceOnOutblobRead > 0)
        {
            Bump(entry, RaceOnOutblobRead);
        }

        return value;
    }

    public void Write(string entry, string attribute, ReadOnlySpan<byte> value)
    {
        string path = Path.Combine(Root, entry, attribute);
        File.WriteAllBytes(path, value.ToArray());
        if (attribute == "inblob")
        {
            if (value.Length > 64)
            {
                throw new IOException("inblob: Invalid argument (more than 64 bytes)");
            }

            InblobsWritten.Add(value.ToArray());
            File.WriteAllBytes(Path.Combine(Root, entry, "outblob"), _report(value.ToArray()));
            Bump(entry, 1 + RaceOnInblobWrite);
        }
        else if (attribute == "privlevel")
        {
            PrivlevelsWritten.Add(Encoding.ASCII.GetString(value));
            Bump(entry, 1);
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }

    private void Bump(string entry, int by)
    {
        string path = Path.Combine(Root, entry, "generation");
        long generation = long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);
        File.WriteAllText(path, (generation + by).ToString(CultureInfo.InvariantCulture) + "\n");
    }
}
