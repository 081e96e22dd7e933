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
    private readonly List<string> _plans = [];
    private long? _minimumSvn;
    private PrivacyBudget? _privacy;

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

    /// <summary>Give the key a privacy budget: a release for a round with differential privacy spends the round's ε
    /// (at <paramref name="delta"/>) up to <paramref name="maxEpsilon"/> in total, and one without it is denied.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxEpsilon"/> is not in (0, 100] or
    /// <paramref name="delta"/> not in (0, 0.01].</exception>
    public EnclaveReleasePolicyBuilder LimitPrivacy(double maxEpsilon, double delta)
    {
        _privacy = new PrivacyBudget(maxEpsilon, delta);
        return this;
    }

    /// <summary>Allow a training plan by its SHA-256 (64 hex digits, docs/formats.md section 14): once any plan is
    /// allowed, only enclaves whose token binds one of the allowed plans (<c>x-ms-runtime.plan</c>) get the key.</summary>
    public EnclaveReleasePolicyBuilder AllowPlan(string planSha256Hex)
    {
        ArgumentNullException.ThrowIfNull(planSha256Hex);
        if (planSha256Hex.Length != 64 || !planSha256Hex.All(char.IsAsciiHexDigit))
        {
            throw new ArgumentException("A plan hash is 64 hex digits (enclave plan hash).", nameof(planSha256Hex));
        }

        _plans.Add(planSha256Hex.ToLowerInvariant());
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

            if (_plans.Count > 0)
            {
                conditions.Add(AnyOf(KnownClaims.Runtime + ".plan", _plans));
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

        if (_privacy is not null)
        {
            policy["x-enclave-privacy"] = new JsonObject { ["maxEpsilon"] = _privacy.MaxEpsilon, ["delta"] = _privacy.Delta };
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
