using System.Text.Json;
using System.Text.Json.Serialization;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.AttestationVerifier.Appraisal;

/// <summary>
/// What verified evidence must show before the verifier issues a token. Data, loadable from JSON such as
/// <c>{"version":1,"allowDebug":false,"allowedTcbStatuses":["UpToDate"],"minimumSvn":2,
/// "allowedMeasurements":["&lt;64 hex&gt;"],"allowedSigners":null,"allowedFormats":["simulated"]}</c>.
/// A list that is null is not checked; an empty list allows nothing. Hex values compare case-insensitively.
/// </summary>
public sealed record AppraisalPolicy
{
    public const int CurrentVersion = 1;

    // The longest digest any supported platform reports (SHA-512).
    private const int MaxHexLength = 128;

    private static readonly JsonSerializerOptions s_jsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        ReadCommentHandling = JsonCommentHandling.Skip,
        NumberHandling = JsonNumberHandling.Strict,
        WriteIndented = true,
        MaxDepth = 8,
    };

    private readonly int _version = CurrentVersion;
    private readonly int _minimumSvn;
    private readonly IReadOnlyList<string> _allowedTcbStatuses = [TcbStatus.UpToDate];
    private readonly IReadOnlyList<string>? _allowedMeasurements;
    private readonly IReadOnlyList<string>? _allowedSigners;
    private readonly IReadOnlyList<string>? _allowedFormats;
    private readonly IReadOnlyDictionary<string, int>? _minimumSvns;
    private readonly IReadOnlyDictionary<string, IReadOnlyList<string>>? _measurements;

    /// <summary>The policy a verifier uses when none is configured: no debug, UpToDate only, any measurement.</summary>
    public static AppraisalPolicy Default { get; } = new();

    /// <summary>Format version of the policy document; only 1 exists.</summary>
    public int Version
    {
        get => _version;
        init => _version = value == CurrentVersion
            ? value
            : throw new ArgumentOutOfRangeException(nameof(Version), value, $"only policy version {CurrentVersion} exists");
    }

    /// <summary>Whether debug enclaves are acceptable. False unless set: debug enclaves expose their memory.</summary>
    public bool AllowDebug { get; init; }

    /// <summary>TCB statuses that are acceptable. Defaults to UpToDate only; never null.</summary>
    public IReadOnlyList<string> AllowedTcbStatuses
    {
        get => _allowedTcbStatuses;
        init => _allowedTcbStatuses = CopyNames(value, nameof(AllowedTcbStatuses))
            ?? throw new ArgumentNullException(nameof(AllowedTcbStatuses), "use an explicit list of TCB statuses");
    }

    /// <summary>The lowest acceptable security version number, 0 to 65535. Defaults to 0.</summary>
    public int MinimumSvn
    {
        get => _minimumSvn;
        init => _minimumSvn = value is >= 0 and <= ushort.MaxValue
            ? value
            : throw new ArgumentOutOfRangeException(nameof(MinimumSvn), value, "the SVN floor must be within 0..65535");
    }

    /// <summary>Acceptable measurements (MRENCLAVE; MRTD or MEASUREMENT on other platforms), hex. Not checked if null.</summary>
    public IReadOnlyList<string>? AllowedMeasurements
    {
        get => _allowedMeasurements;
        init => _allowedMeasurements = CopyHex(value, nameof(AllowedMeasurements));
    }

    /// <summary>Acceptable signers (MRSIGNER), hex. Not checked if null.</summary>
    public IReadOnlyList<string>? AllowedSigners
    {
        get => _allowedSigners;
        init => _allowedSigners = CopyHex(value, nameof(AllowedSigners));
    }

    /// <summary>Acceptable evidence formats by wire name, for example <c>simulated</c>. Not checked if null.</summary>
    public IReadOnlyList<string>? AllowedFormats
    {
        get => _allowedFormats;
        init => _allowedFormats = CopyNames(value, nameof(AllowedFormats));
    }

    /// <summary>
    /// Per-name SVN floors for hardware evidence (for example <c>{"isv_svn": 2, "guest_svn": 1}</c>), checked
    /// against the names the evidence reports. A name the evidence lacks is a violation. Not checked if null.
    /// </summary>
    public IReadOnlyDictionary<string, int>? MinimumSvns
    {
        get => _minimumSvns;
        init => _minimumSvns = value is null ? null : CopySvns(value);
    }

    /// <summary>
    /// Acceptable values per named measurement of hardware evidence (for example
    /// <c>{"mr_td": ["…"], "rtmr0": ["…"]}</c>); each named measurement must equal one of its values. A name the
    /// evidence lacks is a violation. Not checked if null.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Measurements
    {
        get => _measurements;
        init => _measurements = value is null ? null : CopyMeasurements(value);
    }

    /// <exception cref="InvalidDataException">The JSON is not a valid policy document.</exception>
    public static AppraisalPolicy FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            return JsonSerializer.Deserialize<AppraisalPolicy>(json, s_jsonOptions)
                ?? throw new InvalidDataException("appraisal policy: the document is null");
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"appraisal policy: {ex.Message}", ex);
        }
    }

    /// <exception cref="InvalidDataException">The file is not a valid policy document.</exception>
    public static AppraisalPolicy Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return FromJson(File.ReadAllText(path));
    }

    public string ToJson() => JsonSerializer.Serialize(this, s_jsonOptions);

    private static Dictionary<string, int> CopySvns(IReadOnlyDictionary<string, int> values)
    {
        Dictionary<string, int> copy = new(StringComparer.Ordinal);
        foreach ((string name, int floor) in values)
        {
            if (string.IsNullOrWhiteSpace(name) || floor < 0)
            {
                throw new ArgumentException($"{nameof(MinimumSvns)}['{name}'] must name an SVN and give a floor of 0 or more", nameof(MinimumSvns));
            }

            copy[name] = floor;
        }

        return copy;
    }

    private static Dictionary<string, IReadOnlyList<string>> CopyMeasurements(IReadOnlyDictionary<string, IReadOnlyList<string>> values)
    {
        Dictionary<string, IReadOnlyList<string>> copy = new(StringComparer.Ordinal);
        foreach ((string name, IReadOnlyList<string> allowed) in values)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException($"{nameof(Measurements)} contains an empty name", nameof(Measurements));
            }

            copy[name] = CopyHex(allowed ?? throw new ArgumentException($"{nameof(Measurements)}['{name}'] is null", nameof(Measurements)), $"{nameof(Measurements)}['{name}']")!;
        }

        return copy;
    }

    private static string[]? CopyNames(IReadOnlyList<string>? values, string name)
    {
        if (values is null)
        {
            return null;
        }

        string[] copy = [.. values];
        foreach (string value in copy)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new ArgumentException($"{name} contains an empty entry", name);
            }
        }

        return copy;
    }

    private static string[]? CopyHex(IReadOnlyList<string>? values, string name)
    {
        if (values is null)
        {
            return null;
        }

        string[] copy = new string[values.Count];
        for (int i = 0; i < copy.Length; i++)
        {
            string? value = values[i];
            if (value is null || value.Length is 0 or > MaxHexLength || value.Length % 2 != 0 || !value.All(char.IsAsciiHexDigit))
            {
                throw new ArgumentException($"{name}[{i}] is not a hex digest (an even number of hex digits, at most {MaxHexLength})", name);
            }

            copy[i] = value.ToLowerInvariant();
        }

        return copy;
    }
}
