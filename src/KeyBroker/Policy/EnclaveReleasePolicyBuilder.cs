using System.Text.Json.Nodes;

namespace Enclave.KeyBroker.Policy;

/// <summary>Builds the common release policy for this product's enclaves: one rule per trusted verifier
/// (authority), each requiring an allowed <c>x-ms-sgx-mrenclave</c>, an allowed attestation type,
/// <c>x-ms-sgx-is-debuggable</c> equal to false (always), a minimum <c>x-ms-sgx-svn</c> and an allowed TCB
/// status when given, plus the region allowed list. The result is an ordinary policy document.</summary>
public sealed class EnclaveReleasePolicyBuilder
{
    private readonly List<string> _authorities = [];
    private readonly List<string> _measurements = [];
    private readonly List<string> _attestationTypes = [];
    private readonly List<string> _tcbStatuses = [];
    private readonly List<string> _regions = [];
    private long? _minimumSvn;

    /// <param name="authority">The issuer URL of a trusted verifier.</param>
    public EnclaveReleasePolicyBuilder(string authority)
    {
        AddAuthority(authority);
    }

    /// <summary>Also accept tokens of another verifier.</summary>
    public EnclaveReleasePolicyBuilder AddAuthority(string authority)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(authority);
        _authorities.Add(authority);
        return this;
    }

    /// <summary>Allow an enclave measurement (64 or 96 hex digits; stored lower-case).</summary>
    public EnclaveReleasePolicyBuilder AllowMeasurement(string measurementHex)
    {
        ArgumentNullException.ThrowIfNull(measurementHex);
        if (measurementHex.Length is not (64 or 96) || !measurementHex.All(char.IsAsciiHexDigit))
        {
            throw new ArgumentException("A measurement is 64 or 96 hex digits.", nameof(measurementHex));
        }

        _measurements.Add(measurementHex.ToLowerInvariant());
        return this;
    }

    /// <summary>Allow an attestation type such as <c>sgx</c>, <c>sevsnpvm</c>, <c>tdxvm</c> or <c>simulated</c>.</summary>
    public EnclaveReleasePolicyBuilder AllowAttestationType(string attestationType)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(attestationType);
        _attestationTypes.Add(attestationType);
        return this;
    }

    public EnclaveReleasePolicyBuilder RequireMinimumSvn(long minimumSvn)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumSvn);
        _minimumSvn = minimumSvn;
        return this;
    }

    /// <summary>Allow a TCB status (for example <c>UpToDate</c>); when none is given the status is not checked.</summary>
    public EnclaveReleasePolicyBuilder AllowTcbStatus(string tcbStatus)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(tcbStatus);
        _tcbStatuses.Add(tcbStatus);
        return this;
    }

    /// <summary>Allow release in a region; when none is given any region is allowed.</summary>
    public EnclaveReleasePolicyBuilder AllowRegion(string region)
    {
        if (!RegionName.IsValid(region))
        {
            throw new ArgumentException("A region is 1 to 64 characters of [a-z0-9-].", nameof(region));
        }

        if (!_regions.Contains(region, StringComparer.Ordinal))
        {
            _regions.Add(region);
        }

        return this;
    }

    /// <exception cref="InvalidOperationException">No measurement was allowed.</exception>
    public string ToJson()
    {
        if (_measurements.Count == 0)
        {
            throw new InvalidOperationException("Allow at least one measurement; a policy without one releases to any code.");
        }

        var rules = new JsonArray();
        foreach (string authority in _authorities)
        {
            var conditions = new JsonArray
            {
                AnyOf(KnownClaims.SgxMrEnclave, _measurements),
            };
            if (_attestationTypes.Count > 0)
            {
                conditions.Add(AnyOf(KnownClaims.AttestationType, _attestationTypes));
            }

            conditions.Add(new JsonObject { ["claim"] = KnownClaims.SgxIsDebuggable, ["equals"] = false });
            if (_minimumSvn is long svn)
            {
                conditions.Add(new JsonObject { ["claim"] = KnownClaims.SgxSvn, ["greaterOrEquals"] = svn });
            }

            if (_tcbStatuses.Count > 0)
            {
                conditions.Add(AnyOf(KnownClaims.TcbStatus, _tcbStatuses));
            }

            rules.Add(new JsonObject { ["authority"] = authority, ["allOf"] = conditions });
        }

        var policy = new JsonObject
        {
            ["version"] = "1.0.0",
            ["anyOf"] = rules,
        };
        if (_regions.Count > 0)
        {
            policy["x-enclave-regions"] = new JsonArray(_regions.Select(r => (JsonNode?)JsonValue.Create(r)).ToArray());
        }

        return policy.ToJsonString();
    }

    /// <inheritdoc cref="ToJson"/>
    public ReleasePolicy Build() => ReleasePolicy.Parse(ToJson());

    private static JsonObject AnyOf(string claim, IReadOnlyList<string> values)
    {
        var alternatives = new JsonArray();
        foreach (string value in values)
        {
            alternatives.Add(new JsonObject { ["claim"] = claim, ["equals"] = value });
        }

        return new JsonObject { ["anyOf"] = alternatives };
    }
}
