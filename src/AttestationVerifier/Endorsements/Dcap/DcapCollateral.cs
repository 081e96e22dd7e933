using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Enclave.AttestationVerifier.Endorsements.Dcap;

/// <summary>A signed collateral document: the exact bytes of the signed inner JSON object and the raw r||s.</summary>
public sealed record SignedCollateral(string Source, byte[] Body, byte[] Signature, IReadOnlyList<X509Certificate2> IssuerChain);

/// <summary>
/// Everything needed besides the quote to verify a DCAP quote: TCB info and QE identity (exact signed bytes),
/// their signing chains, the CRLs, and any certificates offered (PCK certificate and chain when the quote does
/// not carry them). Problems found while collecting (unparsable files) are kept to be reported.
/// </summary>
public sealed record DcapCollateral(
    SignedCollateral? TcbInfo,
    SignedCollateral? QeIdentity,
    IReadOnlyList<X509Certificate2> Certificates,
    IReadOnlyList<byte[]> Crls,
    IReadOnlyList<string> Problems);

/// <summary>What the verifier asks collateral for.</summary>
/// <param name="Tdx">True for a TDX quote (TCB info id "TDX", QE identity id "TD_QE").</param>
/// <param name="Fmspc">The platform's FMSPC from the PCK certificate, lower-case hex, if known.</param>
public sealed record DcapCollateralRequest(bool Tdx, string? Fmspc);

/// <summary>Where DCAP collateral comes from (endorsement files now; a PCS cache can implement it too).</summary>
public interface IDcapCollateralSource
{
    DcapCollateral Get(EndorsementSet endorsements, DcapCollateralRequest request);
}

/// <summary>
/// Collateral from an <see cref="EndorsementSet"/>: either the dcap-qvl QuoteCollateralV3 JSON (keys
/// tcb_info, tcb_info_signature, qe_identity, qe_identity_signature, *_issuer_chain as PEM, root_ca_crl and
/// pck_crl as hex DER) or raw PCS files (a {"tcbInfo": {...}, "signature": "..."} body, an
/// {"enclaveIdentity": ...} body, PEM issuer chains and CRL files). When several TCB infos or identities are
/// offered, the one whose id (and FMSPC) fits the request wins; otherwise the first one.
/// </summary>
public sealed class EndorsementCollateralSource : IDcapCollateralSource
{
    public static EndorsementCollateralSource Instance { get; } = new();

    public DcapCollateral Get(EndorsementSet endorsements, DcapCollateralRequest request)
    {
        ArgumentNullException.ThrowIfNull(endorsements);
        ArgumentNullException.ThrowIfNull(request);
        List<string> problems = [];
        List<(SignedCollateral Doc, string? Id, string? Fmspc)> tcbInfos = [];
        List<(SignedCollateral Doc, string? Id, string? Fmspc)> identities = [];
        List<X509Certificate2> certificates = [.. endorsements.Certificates];
        List<byte[]> crls = [.. endorsements.Crls.Select(c => c.Der)];

        foreach (EndorsementDocument document in endorsements.Documents)
        {
            try
            {
                ReadDocument(document, tcbInfos, identities, certificates, crls);
            }
            catch (Exception ex) when (ex is JsonException or FormatException or DcapCollateralException or CryptographicException or InvalidOperationException or KeyNotFoundException)
            {
                problems.Add($"{document.Name}: {ex.Message}");
            }
        }

        string wantedTcb = request.Tdx ? "TDX" : "SGX";
        string wantedQe = request.Tdx ? "TD_QE" : "QE";
        return new DcapCollateral(
            Pick(tcbInfos, wantedTcb, request.Fmspc),
            Pick(identities.Where(i => i.Id is null or "QE" or "TD_QE").ToList(), wantedQe, null),
            certificates,
            crls,
            problems);
    }

    private static SignedCollateral? Pick(List<(SignedCollateral Doc, string? Id, string? Fmspc)> docs, string id, string? fmspc) =>
        docs.FirstOrDefault(d => d.Id == id && (fmspc is null || string.Equals(d.Fmspc, fmspc, StringComparison.OrdinalIgnoreCase))).Doc
        ?? docs.FirstOrDefault(d => d.Id == id).Doc
        ?? docs.FirstOrDefault().Doc;

    private static void ReadDocument(
        EndorsementDocument document,
        List<(SignedCollateral, string?, string?)> tcbInfos,
        List<(SignedCollateral, string?, string?)> identities,
        List<X509Certificate2> certificates,
        List<byte[]> crls)
    {
        byte[] bytes = document.Bytes;
        using JsonDocument json = JsonDocument.Parse(bytes, DcapJson.Options);
        JsonElement root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (root.TryGetProperty("tcb_info", out JsonElement tcbText))
        {
            // dcap-qvl QuoteCollateralV3: bodies are JSON strings whose UTF-8 is what was signed.
            List<X509Certificate2> tcbChain = Chain(root, "tcb_info_issuer_chain");
            List<X509Certificate2> qeChain = Chain(root, "qe_identity_issuer_chain");
            List<X509Certificate2> pckChain = Chain(root, "pck_crl_issuer_chain");
            certificates.AddRange(tcbChain);
            certificates.AddRange(qeChain);
            certificates.AddRange(pckChain);
            if (root.TryGetProperty("pck_certificate_chain", out JsonElement pck) && pck.ValueKind == JsonValueKind.String)
            {
                certificates.AddRange(PemCertificates(pck.GetString()!));
            }

            foreach (string name in new[] { "root_ca_crl", "pck_crl" })
            {
                if (root.TryGetProperty(name, out JsonElement crl) && crl.ValueKind == JsonValueKind.String)
                {
                    crls.Add(Convert.FromHexString(crl.GetString()!));
                }
            }

            byte[] tcbBody = Encoding.UTF8.GetBytes(tcbText.GetString() ?? throw new DcapCollateralException("tcb_info is not a string"));
            Add(tcbInfos, new SignedCollateral(document.Name + "#tcb_info", tcbBody, Signature(root, "tcb_info_signature"), tcbChain), "id", "fmspc");
            if (root.TryGetProperty("qe_identity", out JsonElement qeText))
            {
                byte[] qeBody = Encoding.UTF8.GetBytes(qeText.GetString() ?? throw new DcapCollateralException("qe_identity is not a string"));
                Add(identities, new SignedCollateral(document.Name + "#qe_identity", qeBody, Signature(root, "qe_identity_signature"), qeChain), "id", null);
            }

            return;
        }

        if (InnerObject(bytes, "tcbInfo") is { } tcbBytes)
        {
            Add(tcbInfos, new SignedCollateral(document.Name, tcbBytes, Signature(root, "signature"), []), "id", "fmspc");
        }
        else if (InnerObject(bytes, "enclaveIdentity") is { } identityBytes)
        {
            Add(identities, new SignedCollateral(document.Name, identityBytes, Signature(root, "signature"), []), "id", null);
        }
    }

    private static void Add(List<(SignedCollateral, string?, string?)> list, SignedCollateral doc, string idName, string? fmspcName)
    {
        string? id = null, fmspc = null;
        try
        {
            using JsonDocument body = JsonDocument.Parse(doc.Body, DcapJson.Options);
            if (body.RootElement.ValueKind == JsonValueKind.Object)
            {
                if (body.RootElement.TryGetProperty(idName, out JsonElement i) && i.ValueKind == JsonValueKind.String)
                {
                    id = i.GetString();
                }
                else if (body.RootElement.TryGetProperty("version", out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.GetInt32() == 2 && fmspcName is not null)
                {
                    id = "SGX";
                }

                if (fmspcName is not null && body.RootElement.TryGetProperty(fmspcName, out JsonElement f) && f.ValueKind == JsonValueKind.String)
                {
                    fmspc = f.GetString();
                }
            }
        }
        catch (JsonException)
        {
            // Kept anyway: the verifier reports the body as unparsable after checking its signature.
        }

        list.Add((doc, id, fmspc));
    }

    private static byte[] Signature(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement s) && s.ValueKind == JsonValueKind.String
            ? Convert.FromHexString(s.GetString()!)
            : throw new DcapCollateralException($"'{name}' is missing");

    private static List<X509Certificate2> Chain(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement pem) && pem.ValueKind == JsonValueKind.String ? PemCertificates(pem.GetString()!) : [];

    internal static List<X509Certificate2> PemCertificates(string pem)
    {
        List<X509Certificate2> result = [];
        ReadOnlySpan<char> text = pem;
        while (PemEncoding.TryFind(text, out PemFields fields))
        {
            if (text[fields.Label].SequenceEqual("CERTIFICATE"))
            {
                result.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text[fields.Base64Data].ToString())));
            }

            text = text[fields.Location.End..];
        }

        return result;
    }

    /// <summary>The exact bytes of the object value of a top-level property, as they appear in the document.</summary>
    internal static byte[]? InnerObject(byte[] json, string property)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
        while (reader.Read())
        {
            if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals(property))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    throw new DcapCollateralException($"'{property}' is not an object");
                }

                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                return json[start..(int)reader.BytesConsumed];
            }

            if (reader.CurrentDepth >= 1 && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        return null;
    }
}
