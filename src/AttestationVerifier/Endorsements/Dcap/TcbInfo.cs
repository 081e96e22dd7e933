// Intel PCS TCB info ("Intel SGX and Intel TDX Provisioning Certification Service (PCS) API v4", "TCB Info"):
// version 2 (SGX; tcb levels with sgxtcbcompNNsvn fields, no id) and version 3 (id "SGX" or "TDX"; components as
// sgxtcbcomponents/tdxtcbcomponents arrays of 16 {svn}; TDX adds tdxModule and tdxModuleIdentities).
using System.Globalization;
using System.Text.Json;

namespace Enclave.AttestationVerifier.Endorsements.Dcap;

/// <summary>One TCB level: the minimum component SVNs and the status a platform at or above them has.</summary>
public sealed record TcbLevel(int[] SgxComponents, int PceSvn, int[]? TdxComponents, DateTimeOffset? TcbDate, string Status, IReadOnlyList<string> AdvisoryIds);

/// <summary>One TDX module identity (id "TDX_&lt;major version hex&gt;") with its own isvsvn levels.</summary>
public sealed record TdxModuleIdentity(string Id, byte[] MrSigner, byte[] Attributes, byte[] AttributesMask, IReadOnlyList<IdentityTcbLevel> Levels);

/// <summary>The TDX module signer and attributes when the module has major version 0.</summary>
public sealed record TdxModule(byte[] MrSigner, byte[] Attributes, byte[] AttributesMask);

/// <summary>The parsed body of a TCB info document (the signed inner object).</summary>
public sealed record TcbInfo(
    string Id,
    int Version,
    DateTimeOffset IssueDate,
    DateTimeOffset NextUpdate,
    byte[] Fmspc,
    byte[] PceId,
    int TcbEvaluationDataNumber,
    IReadOnlyList<TcbLevel> Levels,
    TdxModule? TdxModule,
    IReadOnlyList<TdxModuleIdentity> TdxModuleIdentities)
{
    private const int ComponentCount = 16;

    /// <exception cref="DcapCollateralException">The JSON is not a TCB info body of version 2 or 3.</exception>
    public static TcbInfo Parse(ReadOnlySpan<byte> body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body.ToArray(), DcapJson.Options);
            JsonElement root = document.RootElement;
            int version = DcapJson.Int(root, "version");
            if (version is not (2 or 3))
            {
                throw new DcapCollateralException($"TCB info version {version} is not 2 or 3");
            }

            string id = version == 2 ? "SGX" : DcapJson.String(root, "id");
            List<TcbLevel> levels = [];
            foreach (JsonElement level in DcapJson.Array(root, "tcbLevels"))
            {
                levels.Add(ParseLevel(level, version, id));
            }

            TdxModule? module = null;
            if (root.TryGetProperty("tdxModule", out JsonElement m))
            {
                module = new TdxModule(DcapJson.Hex(m, "mrsigner"), DcapJson.Hex(m, "attributes"), DcapJson.Hex(m, "attributesMask"));
            }

            List<TdxModuleIdentity> identities = [];
            if (root.TryGetProperty("tdxModuleIdentities", out JsonElement ids))
            {
                foreach (JsonElement identity in DcapJson.ArrayOf(ids, "tdxModuleIdentities"))
                {
                    identities.Add(new TdxModuleIdentity(
                        DcapJson.String(identity, "id"),
                        DcapJson.Hex(identity, "mrsigner"),
                        DcapJson.Hex(identity, "attributes"),
                        DcapJson.Hex(identity, "attributesMask"),
                        DcapJson.Array(identity, "tcbLevels").Select(EnclaveIdentity.ParseLevel).ToList()));
                }
            }

            return new TcbInfo(
                id,
                version,
                DcapJson.Date(root, "issueDate"),
                DcapJson.Date(root, "nextUpdate"),
                DcapJson.Hex(root, "fmspc", 6),
                DcapJson.Hex(root, "pceId", 2),
                root.TryGetProperty("tcbEvaluationDataNumber", out JsonElement n) && n.ValueKind == JsonValueKind.Number ? n.GetInt32() : 0,
                levels,
                module,
                identities);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            throw new DcapCollateralException($"TCB info does not parse: {ex.Message}");
        }
    }

    private static TcbLevel ParseLevel(JsonElement level, int version, string id)
    {
        JsonElement tcb = DcapJson.Object(level, "tcb");
        int[] sgx;
        int[]? tdx = null;
        if (version == 2)
        {
            sgx = new int[ComponentCount];
            for (int i = 0; i < ComponentCount; i++)
            {
                sgx[i] = DcapJson.Int(tcb, string.Create(CultureInfo.InvariantCulture, $"sgxtcbcomp{i + 1:00}svn"));
            }
        }
        else
        {
            sgx = Components(tcb, "sgxtcbcomponents");
            if (string.Equals(id, "TDX", StringComparison.Ordinal))
            {
                tdx = Components(tcb, "tdxtcbcomponents");
            }
        }

        DateTimeOffset? date = level.TryGetProperty("tcbDate", out _) ? DcapJson.Date(level, "tcbDate") : null;
        return new TcbLevel(sgx, DcapJson.Int(tcb, "pcesvn"), tdx, date, DcapJson.String(level, "tcbStatus"), DcapJson.Advisories(level));
    }

    private static int[] Components(JsonElement tcb, string name)
    {
        var values = DcapJson.Array(tcb, name).Select(c => DcapJson.Int(c, "svn")).ToArray();
        return values.Length == ComponentCount
            ? values
            : throw new DcapCollateralException($"{name} has {values.Length} entries, not {ComponentCount}");
    }
}

/// <summary>The parsed body of a QE or TD QE identity document (enclaveIdentity, version 2).</summary>
public sealed record EnclaveIdentity(
    string Id,
    int Version,
    DateTimeOffset IssueDate,
    DateTimeOffset NextUpdate,
    uint MiscSelect,
    uint MiscSelectMask,
    byte[] Attributes,
    byte[] AttributesMask,
    byte[] MrSigner,
    int IsvProdId,
    IReadOnlyList<IdentityTcbLevel> Levels)
{
    /// <exception cref="DcapCollateralException">The JSON is not an enclave identity body.</exception>
    public static EnclaveIdentity Parse(ReadOnlySpan<byte> body)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(body.ToArray(), DcapJson.Options);
            JsonElement root = document.RootElement;
            int version = DcapJson.Int(root, "version");
            if (version != 2)
            {
                throw new DcapCollateralException($"enclave identity version {version} is not 2");
            }

            return new EnclaveIdentity(
                DcapJson.String(root, "id"),
                version,
                DcapJson.Date(root, "issueDate"),
                DcapJson.Date(root, "nextUpdate"),
                DcapJson.UInt32Hex(root, "miscselect"),
                DcapJson.UInt32Hex(root, "miscselectMask"),
                DcapJson.Hex(root, "attributes", 16),
                DcapJson.Hex(root, "attributesMask", 16),
                DcapJson.Hex(root, "mrsigner", 32),
                DcapJson.Int(root, "isvprodid"),
                DcapJson.Array(root, "tcbLevels").Select(ParseLevel).ToList());
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            throw new DcapCollateralException($"enclave identity does not parse: {ex.Message}");
        }
    }

    internal static IdentityTcbLevel ParseLevel(JsonElement level) =>
        new(DcapJson.Int(DcapJson.Object(level, "tcb"), "isvsvn"), DcapJson.String(level, "tcbStatus"), DcapJson.Advisories(level));
}

/// <summary>An identity TCB level: the minimum isvsvn and its status.</summary>
public sealed record IdentityTcbLevel(int IsvSvn, string Status, IReadOnlyList<string> AdvisoryIds);

/// <summary>Collateral is present but unusable (does not parse, wrong shape).</summary>
public sealed class DcapCollateralException(string message) : Exception(message);

internal static class DcapJson
{
    public static readonly JsonDocumentOptions Options = new() { MaxDepth = 16 };

    public static JsonElement Object(JsonElement e, string name) =>
        e.GetProperty(name) is { ValueKind: JsonValueKind.Object } v ? v : throw new DcapCollateralException($"'{name}' is not an object");

    public static IEnumerable<JsonElement> Array(JsonElement e, string name) => ArrayOf(e.GetProperty(name), name);

    public static IEnumerable<JsonElement> ArrayOf(JsonElement v, string name) =>
        v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().ToList() : throw new DcapCollateralException($"'{name}' is not an array");

    public static int Int(JsonElement e, string name) =>
        e.GetProperty(name) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out int i) && i >= 0
            ? i
            : throw new DcapCollateralException($"'{name}' is not a non-negative integer");

    public static string String(JsonElement e, string name) =>
        e.GetProperty(name) is { ValueKind: JsonValueKind.String } v ? v.GetString()! : throw new DcapCollateralException($"'{name}' is not a string");

    public static byte[] Hex(JsonElement e, string name, int length = -1)
    {
        byte[] bytes = Convert.FromHexString(String(e, name));
        return length < 0 || bytes.Length == length ? bytes : throw new DcapCollateralException($"'{name}' is {bytes.Length} bytes, not {length}");
    }

    public static uint UInt32Hex(JsonElement e, string name) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(Hex(e, name, 4));

    public static DateTimeOffset Date(JsonElement e, string name) =>
        DateTimeOffset.Parse(String(e, name), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    public static IReadOnlyList<string> Advisories(JsonElement level) =>
        level.TryGetProperty("advisoryIDs", out JsonElement a) ? ArrayOf(a, "advisoryIDs").Select(x => x.GetString() ?? string.Empty).ToList() : [];
}
