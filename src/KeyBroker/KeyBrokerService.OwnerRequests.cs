// Owner requests: register, rotate, update the policy of, enable/disable and delete a key, each a signed request
// (src/KeyBroker/README.md, Owner requests) applied and audited in one write transaction.
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Policy;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker;

public sealed partial class KeyBrokerService
{
    /// <summary>Registers a data key (a new version when the name is already the signer's).</summary>
    /// <param name="ownerJwk">The owner's EC P-256 public JWK (JSON).</param>
    /// <param name="signedRequest">Compact JWS of an owner request with <c>op</c> "register".</param>
    public OwnerRequestOutcome RegisterKey(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.Register);

    /// <summary>Replaces the release policy of the latest version of an owned key (<c>op</c> "updatePolicy").</summary>
    public OwnerRequestOutcome UpdatePolicy(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.UpdatePolicy);

    /// <summary>Enables or disables the latest version of an owned key (<c>op</c> "setEnabled").</summary>
    public OwnerRequestOutcome SetKeyEnabled(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.SetEnabled);

    /// <summary>Adds a version with a new data key (<c>op</c> "rotate"); releases use it from now on.</summary>
    public OwnerRequestOutcome RotateKey(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.Rotate);

    /// <summary>Deletes an owned key (<c>op</c> "delete"): no version is released again.</summary>
    public OwnerRequestOutcome DeleteKey(string ownerJwk, string signedRequest) =>
        HandleOwnerRequest(ownerJwk, signedRequest, OwnerOperation.Delete);

    /// <summary>Handles any owner request; with <paramref name="expected"/> the request's <c>op</c> must match.</summary>
    public OwnerRequestOutcome HandleOwnerRequest(string ownerJwk, string signedRequest, OwnerOperation? expected = null) =>
        HandleOwnerRequestAsync(ownerJwk, signedRequest, expected).GetAwaiter().GetResult();

    /// <summary>As <see cref="HandleOwnerRequest"/>, waiting for the store without holding a thread.</summary>
    public async Task<OwnerRequestOutcome> HandleOwnerRequestAsync(
        string ownerJwk, string signedRequest, OwnerOperation? expected = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(ownerJwk) || ownerJwk.Length > MaxOwnerKeyLength)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.UnsupportedOwnerKey, "the owner key is missing or too long");
        }

        if (string.IsNullOrEmpty(signedRequest) || signedRequest.Length > Jws.MaxTokenLength)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Malformed, "the signed request is missing or longer than 64 KiB");
        }

        Jwk owner;
        try
        {
            owner = Jwk.Parse(ownerJwk);
        }
        catch (JoseException e)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.UnsupportedOwnerKey, $"the owner key is not a public JWK ({e.Message})");
        }

        if (!owner.IsEc || owner.Crv != "P-256")
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.UnsupportedOwnerKey, "the owner key must be an EC P-256 key (ES256)");
        }

        string thumbprint = owner.ComputeThumbprint();
        JwsVerified verified;
        try
        {
            verified = Jws.Verify(signedRequest, kid => kid == thumbprint ? owner : null, s_ownerAlgorithms);
        }
        catch (JoseException e)
        {
            OwnerRequestError error = e.Code == JoseError.Malformed ? OwnerRequestError.Malformed : OwnerRequestError.BadSignature;
            return OwnerRequestOutcome.Failure(error, $"the request signature is not valid for the owner key ({e.Code}: {e.Message})");
        }

        if (verified.Header["typ"]?.GetValue<string>() != OwnerRequest.JwsType)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Malformed, $"the request's typ must be \"{OwnerRequest.JwsType}\"");
        }

        OwnerRequest request;
        try
        {
            request = OwnerRequest.Parse(verified.Payload);
        }
        catch (FormatException e)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Malformed, e.Message);
        }

        if (expected is OwnerOperation operation && request.Operation != operation)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Malformed, $"the request is a {request.Operation} request, not {operation}");
        }

        if (!string.Equals(request.Audience, _importKey.KeyId, StringComparison.Ordinal))
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.WrongAudience, "the request's aud is not this broker's import key id");
        }

        DateTimeOffset now = _options.Time.GetUtcNow();
        if ((now - request.IssuedAt).Duration() > OwnerRequestWindow)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Stale, "the request's iat is more than five minutes from the broker's clock");
        }

        if (!KeyName.IsValid(request.Name))
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidKeyName, "a key name is 1 to 63 characters of [a-z0-9-], starting with a letter or digit");
        }

        ReleasePolicy? policy = null;
        if (request.PolicyJson is not null)
        {
            if (!ReleasePolicy.TryParse(request.PolicyJson, out policy, out PolicyFormatException? policyError))
            {
                return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidPolicy, policyError!.Message);
            }

            if (!_options.TrustedIssuers.Any(policy!.NamesAuthority))
            {
                return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidPolicy,
                    "no authority of the policy is a verifier this broker trusts, so the key could never be released");
            }
        }

        byte[]? dataKey = null;
        try
        {
            if (request.EncryptedKey is not null)
            {
                try
                {
                    dataKey = _importKey.Decrypt(request.EncryptedKey);
                }
                catch (JoseException e)
                {
                    return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidDataKey, $"the data key does not decrypt with the import key ({e.Code})");
                }

                if (dataKey.Length != KeyStore.DataKeySize)
                {
                    return OwnerRequestOutcome.Failure(OwnerRequestError.InvalidDataKey, "the data key must be exactly 32 bytes");
                }
            }

            return await ApplyAsync(request, thumbprint, policy, dataKey, now, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (dataKey is not null)
            {
                CryptographicOperations.ZeroMemory(dataKey);
            }
        }
    }


    private async Task<OwnerRequestOutcome> ApplyAsync(
        OwnerRequest request, string owner, ReleasePolicy? policy, byte[]? dataKey, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using IKeyBrokerTransaction transaction = await _store.BeginWriteAsync(cancellationToken).ConfigureAwait(false);
        transaction.PurgeExpired(now);
        if (!transaction.TryRecordOwnerRequest($"{owner}:{request.RequestId}", request.IssuedAt + OwnerRequestWindow + TimeSpan.FromMinutes(1)))
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.Replayed, "this request id was already used");
        }

        // The id is composed from the signer's key, so an owner only ever reaches its own keys: the same short
        // name of two owners is two keys.
        string keyId = KeyId.Compose(owner, request.Name);
        KeyVersionRecord? latest = transaction.GetLatestKey(keyId);
        bool owned = latest is not null && string.Equals(latest.OwnerThumbprint, owner, StringComparison.Ordinal);
        if (latest is not null && !owned)
        {
            return OwnerRequestOutcome.Failure(OwnerRequestError.KeyIntegrityFailure, "the stored key record names another owner than its id");
        }

        if (request.Operation != OwnerOperation.Register && (!owned || KeyStore.IsDeleted(latest!)))
        {
            // The same answer for a missing key, a deleted key and another owner's key.
            return OwnerRequestOutcome.Failure(OwnerRequestError.NotOwner, NotOwnedDetail);
        }

        KeyVersionRecord result;
        AuditEntryKind kind;
        switch (request.Operation)
        {
            case OwnerOperation.Register:
                result = _keys.AddVersion(transaction, keyId, (latest?.Version ?? 0) + 1, owner, dataKey, policy!.Json);
                kind = AuditEntryKind.KeyRegistered;
                break;
            case OwnerOperation.Rotate:
                result = _keys.AddVersion(transaction, keyId, latest!.Version + 1, owner, dataKey, policy?.Json ?? latest.PolicyJson);
                kind = AuditEntryKind.KeyVersionAdded;
                break;
            case OwnerOperation.Delete:
                result = _keys.Delete(transaction, latest!);
                kind = AuditEntryKind.KeyDeleted;
                break;
            case OwnerOperation.UpdatePolicy:
            case OwnerOperation.SetEnabled:
                KeyVersionRecord? replaced = request.Operation == OwnerOperation.UpdatePolicy
                    ? _keys.Replace(transaction, latest!, policy!.Json, latest!.Enabled)
                    : _keys.Replace(transaction, latest!, latest!.PolicyJson, request.Enabled!.Value);
                if (replaced is null)
                {
                    return OwnerRequestOutcome.Failure(OwnerRequestError.KeyIntegrityFailure, "the stored key record does not authenticate under the master key");
                }

                result = replaced;
                kind = request.Operation == OwnerOperation.UpdatePolicy ? AuditEntryKind.PolicyUpdated : AuditEntryKind.KeyStateChanged;
                break;
            default:
                throw new InvalidOperationException("Unknown owner operation.");
        }

        var body = new JsonObject
        {
            ["key"] = result.Name,
            ["version"] = result.Version,
            ["owner"] = owner,
            ["operation"] = request.Operation.ToString(),
            ["requestId"] = request.RequestId,
            ["policySha256"] = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(result.PolicyJson))),
            ["enabled"] = result.Enabled,
        };
        AuditEntry entry = _audit.Append(transaction, kind, body);
        await transaction.CommitAsync().ConfigureAwait(false);
        RememberLatestKey(result.Name, result);
        return OwnerRequestOutcome.Success(result.Name, result.Version, entry.Id, $"{kind} {result.Name} version {result.Version}");
    }
}
