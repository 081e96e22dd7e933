using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.Cli.Commands;

/// <summary>
/// The auditor's and security team's verb for hardware evidence: verify it offline, at a chosen instant, and
/// appraise it against a policy. Exit 0: genuine and the appraisal passed; 1: rejected; 2: unusable input
/// (unreadable files, unknown kind, evidence that does not parse, invalid policy).
/// </summary>
internal static class AttestCommands
{
    public const int MaxEvidenceBytes = 1024 * 1024;

    public static Command Create()
    {
        var evidence = new Option<string>("--evidence") { Required = true, Description = "the evidence file: SGX/TDX quote, SEV-SNP report, Nitro document (COSE_Sign1) or Azure Attestation JWT" };
        var endorsements = new Option<string[]>("--endorsements") { Description = "certificates, CRLs and collateral files, or folders of them (recognised by content); repeatable", AllowMultipleArgumentsPerToken = true };
        var kind = new Option<string?>("--kind") { Description = "sgx, tdx, sev-snp, nitro or maa (detected when omitted)" };
        var at = new Option<string?>("--at") { Description = "the instant to verify at, RFC 3339 (default: now)" };
        var policy = new Option<string?>("--policy") { Description = "the appraisal policy JSON (default: no debug, TCB UpToDate only)" };
        var runtimeData = new Option<string?>("--runtime-data") { Description = "the runtime data the report data must bind (SHA-512/384/256 digest)" };
        Option<string?> json = RoundCommands.JsonOption();
        var verify = new Command("verify", "Verify hardware evidence at an instant and appraise it against a policy.")
        {
            evidence, endorsements, kind, at, policy, runtimeData, json,
        };
        verify.SetAction(parse => CliErrors.RunAsync(() =>
        {
            VerifyRequest request = new(
                parse.GetValue(evidence)!,
                parse.GetValue(endorsements) ?? [],
                parse.GetValue(kind),
                parse.GetValue(at),
                parse.GetValue(policy),
                parse.GetValue(runtimeData));
            AttestResult result = Run(request, TimeProvider.System);
            if (parse.GetResult(json) is not null)
            {
                RoundCommands.WriteJson(parse.GetValue(json), result.ToJson());
            }
            else
            {
                Console.WriteLine(result.ToText());
            }
            return Task.FromResult(result.ExitCode);
        }));
        return new Command("attest", "Verify attestation evidence from real hardware.") { verify };
    }

    /// <exception cref="CliException">An input is unusable.</exception>
    public static AttestResult Run(VerifyRequest request, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(request);
        byte[] bytes = ReadBounded(request.EvidencePath, MaxEvidenceBytes, "evidence");
        DateTimeOffset instant = request.At is null ? time.GetUtcNow() : ParseInstant(request.At);
        AppraisalPolicy appraisalPolicy = AppraisalPolicy.Default;
        if (request.PolicyPath is not null)
        {
            try
            {
                appraisalPolicy = AppraisalPolicy.FromJson(File.ReadAllText(request.PolicyPath));
            }
            catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                throw new CliException($"--policy {request.PolicyPath}: {ex.Message}");
            }
        }

        byte[]? runtime = request.RuntimeDataPath is null ? null : ReadBounded(request.RuntimeDataPath, RuntimeData.MaxLength, "runtime data");
        EndorsementSet set;
        try
        {
            set = EndorsementSet.Load(request.EndorsementPaths);
        }
        catch (Exception ex) when (ex is EndorsementException or IOException or UnauthorizedAccessException)
        {
            throw new CliException(ex.Message);
        }

        IHardwareVerifier verifier = request.Kind is { } named
            ? HardwareVerifiers.Find(named) ?? throw new CliException($"--kind must be one of {string.Join(", ", HardwareVerifiers.Kinds)}; got '{named}'")
            : HardwareVerifiers.Detect(bytes) ?? throw new CliException($"{request.EvidencePath} is not evidence of any known kind ({string.Join(", ", HardwareVerifiers.Kinds)}); name one with --kind");

        HardwareVerificationReport report = verifier.Verify(bytes, set, instant);
        IReadOnlyList<AppraisalViolation> violations = HardwareAppraiser.Appraise(report, appraisalPolicy, runtime, runtime is not null);
        return new AttestResult(report, violations, instant);
    }

    private static byte[] ReadBounded(string path, int limit, string what)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new CliException($"{what} file {path} does not exist");
            }

            if (info.Length > limit)
            {
                throw new CliException($"{what} file {path} is {info.Length} bytes; the limit is {limit}");
            }

            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"{what} file {path}: {ex.Message}");
        }
    }

    private static DateTimeOffset ParseInstant(string value) =>
        DateTimeOffset.TryParseExact(value, ["yyyy-MM-ddTHH:mm:ssK", "yyyy-MM-ddTHH:mm:ss.FFFFFFFK"], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset instant)
            ? instant
            : throw new CliException($"--at must be an RFC 3339 instant such as 2025-07-19T10:01:17Z; got '{value}'");
}

internal sealed record VerifyRequest(
    string EvidencePath,
    IReadOnlyList<string> EndorsementPaths,
    string? Kind,
    string? At,
    string? PolicyPath,
    string? RuntimeDataPath);

internal sealed record AttestResult(HardwareVerificationReport Report, IReadOnlyList<AppraisalViolation> Violations, DateTimeOffset At)
{
    public bool Unusable => Report.Identity is null
        && Report.Errors.Any(e => e.Code is VerificationCodes.Malformed or VerificationCodes.Unsupported);

    public int ExitCode => Unusable ? 2 : Report.Verified && Violations.Count == 0 ? 0 : 1;

    public JsonObject ToJson()
    {
        JsonObject claims = [];
        foreach ((string key, string value) in Report.Claims.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            claims[key] = value;
        }

        return new JsonObject
        {
            ["kind"] = Report.Kind,
            ["verified"] = Report.Verified,
            ["tcbStatus"] = Report.TcbStatus,
            ["at"] = At.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["appraisal"] = new JsonObject
            {
                ["passed"] = Violations.Count == 0,
                ["violations"] = new JsonArray([.. Violations.Select(v => (JsonNode)new JsonObject { ["code"] = v.Code.ToString(), ["message"] = v.Message })]),
            },
            ["claims"] = claims,
            ["errors"] = new JsonArray([.. Report.Errors.Select(e => (JsonNode)new JsonObject { ["code"] = e.Code, ["message"] = e.Message })]),
        };
    }

    public string ToText()
    {
        List<string> lines =
        [
            $"{Report.Kind} evidence at {At.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}: {(Report.Verified ? "GENUINE" : "NOT GENUINE")}, TCB {Report.TcbStatus ?? "unknown"}, appraisal {(Violations.Count == 0 ? "passed" : "FAILED")}",
        ];
        lines.AddRange(Report.Errors.Select(e => $"  error {e.Code}: {e.Message}"));
        lines.AddRange(Violations.Select(v => $"  violation {v.Code}: {v.Message}"));
        return string.Join(Environment.NewLine, lines);
    }
}
