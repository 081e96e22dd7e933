// Linux configfs-tsm report interface (Documentation/ABI/testing/configfs-tsm, kernel 6.7+), shared by the
// sev-guest and tdx-guest drivers. Under /sys/kernel/config/tsm/report a caller:
//   mkdir <entry>                       the kernel populates the entry's attributes
//   read  provider                      "sev_guest" or "tdx_guest"
//   write privlevel (optional)          SNP VMPL to request the report for
//   write inblob                        up to 64 bytes of report data (user data)
//   read  generation                    incremented by every write to inblob or an option
//   read  outblob                       the report (SNP ATTESTATION_REPORT) or TD quote
//   read  auxblob (SNP)                 the certificate table with the VCEK or VLEK
//   read  generation                    unchanged since the writes, else another writer raced
//   rmdir <entry>
namespace Enclave.EnclaveApp.Attestation;

/// <summary>One configfs-tsm report: the provider that produced it, the report or quote, and the SNP certificates.</summary>
public sealed record TsmReport(string Provider, string Format, byte[] OutBlob, byte[]? AuxBlob, long Generation, IReadOnlyList<SnpCertificateEntry> Certificates);

/// <summary>
/// Evidence for SEV-SNP and TDX guests through configfs-tsm. Each request uses a fresh entry named with 128 random
/// bits and checks the generation counter so that a concurrent writer to the same entry cannot substitute its own
/// report data undetected.
/// </summary>
public sealed class ConfigfsTsmProvider : IEvidenceProvider
{
    public const string DefaultRoot = "/sys/kernel/config/tsm/report";
    public const string SevGuestProvider = "sev_guest";
    public const string TdxGuestProvider = "tdx_guest";
    public const int MaxOutBlobBytes = 1024 * 1024;
    public const int MaxAttributeBytes = 4096;

    private readonly ITsmReportFiles _files;
    private readonly int? _privilegeLevel;
    private readonly Lazy<string?> _provider;

    /// <param name="root">The configfs-tsm report directory.</param>
    /// <param name="privilegeLevel">The SNP VMPL to request (0-3), or null for the driver's default.</param>
    public ConfigfsTsmProvider(string root = DefaultRoot, int? privilegeLevel = null)
        : this(new ConfigfsFiles(root), privilegeLevel)
    {
    }

    internal ConfigfsTsmProvider(ITsmReportFiles files, int? privilegeLevel = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (privilegeLevel is < 0 or > 3)
        {
            throw new ArgumentOutOfRangeException(nameof(privilegeLevel), privilegeLevel, "the SNP privilege level is 0 to 3");
        }

        _files = files;
        _privilegeLevel = privilegeLevel;
        _provider = new Lazy<string?>(Probe);
    }

    /// <summary>sev-snp or tdx once the provider is known; "configfs-tsm" when it is not available.</summary>
    public string Format => FormatOf(_provider.Value) ?? "configfs-tsm";

    /// <summary>The provider the kernel names (sev_guest, tdx_guest), or null when the interface is absent.</summary>
    public string? Provider => _provider.Value;

    public bool IsAvailable => FormatOf(_provider.Value) is not null;

    public byte[] GetEvidence(ReadOnlySpan<byte> reportData64) => GetReport(reportData64).OutBlob;

    /// <summary>Requests one report and returns it with its auxiliary blob.</summary>
    /// <exception cref="ArgumentException"><paramref name="reportData64"/> is not 64 bytes.</exception>
    /// <exception cref="EvidenceUnavailableException">The interface is absent, the provider unsupported, the kernel
    /// failed, or the generation counter shows a concurrent writer.</exception>
    public TsmReport GetReport(ReadOnlySpan<byte> reportData64)
    {
        if (reportData64.Length != 64)
        {
            throw new ArgumentException($"report data is 64 bytes, not {reportData64.Length}", nameof(reportData64));
        }

        string entry = NewEntryName();
        try
        {
            _files.CreateEntry(entry);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new EvidenceUnavailableException($"configfs-tsm: cannot create report entry '{entry}': {ex.Message}", ex);
        }

        try
        {
            return Request(entry, reportData64);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new EvidenceUnavailableException($"configfs-tsm: report entry '{entry}': {ex.Message}", ex);
        }
        finally
        {
            try
            {
                _files.RemoveEntry(entry);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The report is complete; a stale entry holds no secret and is reclaimed with the guest.
                _ = ex;
            }
        }
    }

    private TsmReport Request(string entry, ReadOnlySpan<byte> reportData)
    {
        string provider = ReadText(entry, "provider");
        string format = FormatOf(provider)
            ?? throw new EvidenceUnavailableException($"configfs-tsm: provider '{provider}' is neither {SevGuestProvider} nor {TdxGuestProvider}");

        long before = ReadGeneration(entry);
        int writes = 0;
        if (_privilegeLevel is { } level)
        {
            _files.Write(entry, "privlevel", System.Text.Encoding.ASCII.GetBytes(level.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            writes++;
        }

        _files.Write(entry, "inblob", reportData);
        writes++;
        long configured = ReadGeneration(entry);
        if (configured != before + writes)
        {
            throw new EvidenceUnavailableException(
                $"configfs-tsm: generation went from {before} to {configured} across our {writes} write(s): another writer raced on entry '{entry}'");
        }

        byte[] outBlob = _files.Read(entry, "outblob", MaxOutBlobBytes);
        byte[]? auxBlob = format == "sev-snp" && _files.Exists(entry, "auxblob") ? _files.Read(entry, "auxblob", MaxOutBlobBytes) : null;
        long after = ReadGeneration(entry);
        if (after != configured)
        {
            throw new EvidenceUnavailableException(
                $"configfs-tsm: generation changed from {configured} to {after} while the report was produced: another writer raced on entry '{entry}'");
        }

        if (outBlob.Length == 0)
        {
            throw new EvidenceUnavailableException($"configfs-tsm: provider '{provider}' returned an empty outblob");
        }

        IReadOnlyList<SnpCertificateEntry> certificates = auxBlob is { Length: > 0 } ? SnpCertificateTable.Parse(auxBlob) : [];
        return new TsmReport(provider, format, outBlob, auxBlob, after, certificates);
    }

    private string? Probe()
    {
        string entry = NewEntryName();
        try
        {
            _files.CreateEntry(entry);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        try
        {
            return _files.Exists(entry, "provider") ? ReadText(entry, "provider") : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        finally
        {
            try
            {
                _files.RemoveEntry(entry);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _ = ex;
            }
        }
    }

    private string ReadText(string entry, string attribute) =>
        System.Text.Encoding.ASCII.GetString(_files.Read(entry, attribute, MaxAttributeBytes)).Trim();

    private long ReadGeneration(string entry)
    {
        string text = ReadText(entry, "generation");
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long value)
            ? value
            : throw new EvidenceUnavailableException($"configfs-tsm: generation '{text}' is not a number");
    }

    private static string? FormatOf(string? provider) => provider switch
    {
        SevGuestProvider => "sev-snp",
        TdxGuestProvider => "tdx",
        _ => null,
    };

    private static string NewEntryName() =>
        "enclave-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
}

/// <summary>The file operations on a configfs-tsm report directory (a seam so tests can stand in for the kernel).</summary>
internal interface ITsmReportFiles
{
    void CreateEntry(string entry);

    void RemoveEntry(string entry);

    bool Exists(string entry, string attribute);

    byte[] Read(string entry, string attribute, int maxBytes);

    void Write(string entry, string attribute, ReadOnlySpan<byte> value);
}

/// <summary>configfs-tsm through ordinary file calls: mkdir, rmdir, open/read/write of attributes.</summary>
internal sealed class ConfigfsFiles(string root) : ITsmReportFiles
{
    public string Root { get; } = root ?? throw new ArgumentNullException(nameof(root));

    public void CreateEntry(string entry)
    {
        if (!Directory.Exists(Root))
        {
            throw new DirectoryNotFoundException($"'{Root}' does not exist (no configfs-tsm report interface)");
        }

        Directory.CreateDirectory(Path.Combine(Root, entry));
    }

    public void RemoveEntry(string entry) => Directory.Delete(Path.Combine(Root, entry), recursive: false);

    public bool Exists(string entry, string attribute) => File.Exists(Path.Combine(Root, entry, attribute));

    public byte[] Read(string entry, string attribute, int maxBytes)
    {
        // Attribute sizes are not known in advance (configfs reports 4096 or 0), so read to the end, bounded.
        using FileStream stream = new(Path.Combine(Root, entry, attribute), FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
        using MemoryStream buffer = new();
        byte[] chunk = new byte[8192];
        int read;
        while ((read = stream.Read(chunk, 0, chunk.Length)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                throw new IOException($"'{attribute}' is longer than {maxBytes} bytes");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    public void Write(string entry, string attribute, ReadOnlySpan<byte> value)
    {
        using FileStream stream = new(Path.Combine(Root, entry, attribute), FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 1, FileOptions.None);
        stream.Write(value);
    }
}
