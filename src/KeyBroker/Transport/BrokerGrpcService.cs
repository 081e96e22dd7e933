// gRPC face of the key broker. Generated types stop here. Denials carry only the wire reason (coarse after the
// token stage) in the "reason-code" trailer; the full reason is in the audit log.
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tokens;
using Enclave.Protocol.Broker;
using Grpc.Core;

namespace Enclave.KeyBroker.Transport;

internal sealed class BrokerGrpcService : Protocol.Broker.KeyBroker.KeyBrokerBase
{
    private const string ManifestType = "enclave-round-manifest/1";
    private const int MaxRoundIdLength = 128;

    private readonly KeyBrokerService _service;
    private readonly CoordinatorKeys _coordinators;

    public BrokerGrpcService(KeyBrokerService service, CoordinatorKeys coordinators)
    {
        _service = service;
        _coordinators = coordinators;
    }

    public override async Task<GetNonceResponse> GetNonce(GetNonceRequest request, ServerCallContext context)
    {
        IssuedNonce nonce = await _service.IssueNonceAsync(context.CancellationToken).ConfigureAwait(false);
        return new GetNonceResponse { Nonce = nonce.Value, ExpiresUnixSeconds = nonce.ExpiresAt.ToUnixTimeSeconds() };
    }

    public override async Task<ReleaseKeyResponse> ReleaseKey(ReleaseKeyRequest request, ServerCallContext context)
    {
        if (request.KeyName.Length > 256 || request.AttestationToken.Length > 64 * 1024)
        {
            throw Rpc(StatusCode.InvalidArgument, "MalformedRequest", "key name or token exceeds its size limit");
        }

        var options = new ReleaseKeyOptions(request.KeyName, request.AttestationToken)
        {
            Caller = context.GetHttpContext().Connection.RemoteIpAddress?.ToString(),
        };
        ReleaseOutcome outcome = await _service.ReleaseAsync(options, context.CancellationToken).ConfigureAwait(false);
        if (outcome.IsRateLimited)
        {
            throw Rpc(StatusCode.ResourceExhausted, ReleaseOutcome.RateLimited,
                "too many releases with tokens that did not validate from this address; try again later");
        }

        IssuedNonce next = _service.IssueNonce();
        if (!outcome.IsGranted)
        {
            RpcException denied = Rpc(StatusCode.PermissionDenied, outcome.WireReason, $"release denied: {outcome.WireReason} (audit receipt {outcome.ReceiptId})");
            denied.Trailers.Add(NextNonceTrailer, next.Value);
            throw denied;
        }

        return new ReleaseKeyResponse
        {
            WrappedKey = outcome.WrappedKey!,
            KeyVersion = outcome.KeyVersion!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ReceiptId = outcome.ReceiptId!,
            NextNonce = new GetNonceResponse { Nonce = next.Value, ExpiresUnixSeconds = next.ExpiresAt.ToUnixTimeSeconds() },
        };
    }

    /// <summary>The trailer of a denied release that carries a fresh nonce for the caller's next attempt.</summary>
    public const string NextNonceTrailer = "next-nonce";

    public override async Task<RegisterKeyResponse> RegisterKey(SignedOwnerRequest request, ServerCallContext context)
    {
        OwnerRequestOutcome outcome = await _service.HandleOwnerRequestAsync(
            request.OwnerKey, request.SignedRequest, cancellationToken: context.CancellationToken).ConfigureAwait(false);
        if (!outcome.Succeeded)
        {
            throw Rpc(StatusCode.PermissionDenied, outcome.Error?.ToString() ?? "Rejected", outcome.Detail);
        }

        return new RegisterKeyResponse
        {
            KeyName = outcome.KeyName ?? string.Empty,
            KeyVersion = outcome.KeyVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty,
        };
    }

    public override async Task<ManageKeyResponse> ManageKey(SignedOwnerRequest request, ServerCallContext context)
    {
        OwnerRequestOutcome outcome = await _service.HandleOwnerRequestAsync(
            request.OwnerKey, request.SignedRequest, cancellationToken: context.CancellationToken).ConfigureAwait(false);
        if (!outcome.Succeeded)
        {
            StatusCode status = outcome.Error is OwnerRequestError.Malformed or OwnerRequestError.InvalidKeyName
                or OwnerRequestError.InvalidPolicy or OwnerRequestError.InvalidDataKey or OwnerRequestError.UnsupportedOwnerKey
                ? StatusCode.InvalidArgument
                : StatusCode.PermissionDenied;
            throw Rpc(status, outcome.Error?.ToString() ?? "Rejected", outcome.Detail);
        }

        return new ManageKeyResponse
        {
            KeyName = outcome.KeyName ?? string.Empty,
            KeyVersion = outcome.KeyVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty,
            ReceiptId = outcome.ReceiptId ?? string.Empty,
            Detail = outcome.Detail,
        };
    }

    public override Task<GetImportKeyResponse> GetImportKey(GetImportKeyRequest request, ServerCallContext context) =>
        Task.FromResult(new GetImportKeyResponse { Jwk = _service.ImportKey.ToJson() });

    public override async Task<RecordManifestResponse> RecordManifest(RecordManifestRequest request, ServerCallContext context)
    {
        JwsVerified verified;
        try
        {
            verified = Jws.Verify(request.SignedManifest, _coordinators.Find);
        }
        catch (JoseException ex)
        {
            throw Rpc(StatusCode.PermissionDenied, "ManifestNotTrusted", $"manifest signature rejected ({ex.Code}): {ex.Message}");
        }

        if (!TryReadManifest(verified.Payload, out JsonObject? manifest, out string roundId, out string problem))
        {
            throw Rpc(StatusCode.InvalidArgument, "MalformedManifest", problem);
        }

        AuditEntry? entry = await _service.RecordRoundManifestAsync(verified.Kid!, roundId, manifest!, request.SignedManifest, CancellationToken.None)
            .ConfigureAwait(false);
        if (entry is null)
        {
            throw Rpc(StatusCode.AlreadyExists, "ManifestDuplicate", "a manifest for this round id is already recorded for this coordinator");
        }

        return new RecordManifestResponse { ReceiptId = entry.Id };
    }

    /// <summary>The manifest as a JSON object with its round id, or why not: not JSON, duplicate members, nested deeper
    /// than 32, not an object, a type other than the string "enclave-round-manifest/1", or no usable roundId.</summary>
    internal static bool TryReadManifest(byte[] payload, out JsonObject? manifest, out string roundId, out string problem)
    {
        manifest = null;
        roundId = string.Empty;
        try
        {
            using JsonDocument document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 32, AllowDuplicateProperties = false });
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "the manifest must be a JSON object";
                return false;
            }

            if (!root.TryGetProperty("type", out JsonElement type) || type.ValueKind != JsonValueKind.String
                || type.GetString() != ManifestType)
            {
                problem = $"the manifest's \"type\" must be the string \"{ManifestType}\"";
                return false;
            }

            if (!root.TryGetProperty("roundId", out JsonElement round) || round.ValueKind != JsonValueKind.String
                || round.GetString() is not { Length: > 0 and <= MaxRoundIdLength } text || text.Any(char.IsControl))
            {
                problem = $"the manifest's \"roundId\" must be a string of 1 to {MaxRoundIdLength} characters without control characters";
                return false;
            }

            // Serialised once here, so a string the audit record could not hold (an escaped lone surrogate) is
            // refused now rather than failing the append.
            manifest = JsonObject.Create(root.Clone());
            _ = manifest!.ToJsonString();
            roundId = text;
            problem = string.Empty;
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            manifest = null;
            problem = "the manifest is not JSON without duplicate members, nested at most 32 deep";
            return false;
        }
    }

    public override async Task<RecordEnrollmentResponse> RecordEnrollment(RecordEnrollmentRequest request, ServerCallContext context)
    {
        try
        {
            AuditEntry entry = await _service.RecordNodeEnrollmentAsync(request.SignedEnrollment, CancellationToken.None).ConfigureAwait(false);
            return new RecordEnrollmentResponse { ReceiptId = entry.Id };
        }
        catch (FormatException ex)
        {
            throw Rpc(StatusCode.PermissionDenied, "EnrollmentNotTrusted", ex.Message);
        }
        catch (EnrollmentRefusedException ex)
        {
            throw Rpc(StatusCode.PermissionDenied, ex.Code, ex.Message);
        }
    }

    public override Task<PingResponse> Ping(PingRequest request, ServerCallContext context) => Task.FromResult(new PingResponse());

    private static RpcException Rpc(StatusCode status, string reason, string message) =>
        new(new Status(status, message), new Metadata { { "reason-code", reason } });
}

/// <summary>Coordinator keys whose signed round manifests the broker records.</summary>
public sealed class CoordinatorKeys
{
    private readonly Dictionary<string, Jwk> _keys;

    public CoordinatorKeys(IEnumerable<Jwk> keys) => _keys = keys.ToDictionary(k => k.ComputeThumbprint(), StringComparer.Ordinal);

    public Jwk? Find(string? kid) => kid is not null && _keys.TryGetValue(kid, out Jwk? key) ? key : null;
}
