// gRPC face of the key broker. Generated types stop here. Denials carry only the wire reason (coarse after the
// token stage) in the "reason-code" trailer; the full reason is in the audit log.
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tokens;
using Enclave.Protocol.Broker;
using Grpc.Core;

namespace Enclave.KeyBroker.Transport;

internal sealed class BrokerGrpcService : Protocol.Broker.KeyBroker.KeyBrokerBase
{
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

        ReleaseOutcome outcome = await _service.ReleaseAsync(request.KeyName, request.AttestationToken, context.CancellationToken).ConfigureAwait(false);
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

        JsonObject? manifest;
        try
        {
            manifest = JsonNode.Parse(Encoding.UTF8.GetString(verified.Payload)) as JsonObject;
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw Rpc(StatusCode.InvalidArgument, "MalformedManifest", $"manifest is not JSON: {ex.Message}");
        }

        if (manifest?["type"]?.GetValue<string>() != "enclave-round-manifest/1")
        {
            throw Rpc(StatusCode.InvalidArgument, "MalformedManifest", "manifest type must be enclave-round-manifest/1");
        }

        var body = new JsonObject
        {
            ["coordinatorKey"] = verified.Kid,
            ["manifest"] = manifest,
            ["signedManifest"] = request.SignedManifest,
        };
        AuditEntry entry = await _service.Audit.AppendAsync(AuditEntryKind.RoundManifest, body, CancellationToken.None).ConfigureAwait(false);
        return new RecordManifestResponse { ReceiptId = entry.Id };
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
