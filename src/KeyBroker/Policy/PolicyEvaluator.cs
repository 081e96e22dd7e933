// Evaluation of a parsed release policy against a token's claims.
//
// Comparisons are typed: a condition holds only when the claim exists and has the JSON type of the
// policy value (string, number or boolean), so the string "0" never equals the number 0 and a missing
// claim satisfies no operator except "exists": false. notEquals on a missing or differently typed claim
// fails as well (fail closed). Numbers compare by value (1 equals 1.0). Strings compare ordinally,
// except hex measurements (KnownClaims.MeasurementClaims), which compare case-insensitively when both
// sides are hex digits. Dotted claim paths navigate nested objects; a segment that meets anything but
// an object is a missing claim. JSON null counts as missing.
//
// Authorities match the token's "iss" ordinally after removing trailing slashes from both. Conditions
// under an authority that does not match are not evaluated; the mismatch itself is the failure.
using System.Text.Json;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Policy;

internal static class PolicyEvaluator
{
    private const int MaxShownValueLength = 96;

    public static PolicyEvaluation Evaluate(ParsedPolicy policy, JsonElement claims)
    {
        if (claims.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException("The claims must be a JSON object.", nameof(claims));
        }

        if (!JsonText.IsValid(claims))
        {
            // Unreadable text satisfies nothing (fail closed); token parsing already rejects it.
            return new PolicyEvaluation(false,
                [new PolicyFailure(ReasonCode.TokenInvalid, JsonPathText.Root, string.Empty, "the claims hold text that is not valid UTF-8 or has an unpaired surrogate")]);
        }

        var failures = new List<PolicyFailure>();
        bool regionOk = EvaluateRegions(policy, claims, failures);

        string? issuer = TryGetClaim(claims, [KnownClaims.Issuer], out JsonElement iss) && iss.ValueKind == JsonValueKind.String
            ? iss.GetString()
            : null;

        var authorityFailures = new List<PolicyFailure>();
        var conditionFailures = new List<PolicyFailure>();
        bool anySatisfied = false;
        bool allSatisfied = true;
        foreach (AuthorityRule rule in policy.Authorities)
        {
            bool ruleOk;
            if (issuer is null || !IssuerMatches(rule.Authority, issuer))
            {
                authorityFailures.Add(new PolicyFailure(
                    ReasonCode.WrongIssuer,
                    JsonPathText.Member(rule.Path, "authority"),
                    KnownClaims.Issuer,
                    $"token issuer {Show(issuer)} is not the authority {Show(rule.Authority)}"));
                ruleOk = false;
            }
            else
            {
                var local = new List<PolicyFailure>();
                ruleOk = EvaluateGroup(rule.Conditions, claims, local);
                conditionFailures.AddRange(local);
            }

            anySatisfied |= ruleOk;
            allSatisfied &= ruleOk;
        }

        bool rulesOk = policy.RequireAllAuthorities ? allSatisfied : anySatisfied;
        if (!rulesOk)
        {
            failures.AddRange(conditionFailures);
            failures.AddRange(authorityFailures);
        }

        bool satisfied = regionOk && rulesOk;
        return new PolicyEvaluation(satisfied, satisfied ? [] : failures);
    }

    internal static bool IssuerMatches(string authority, string issuer) =>
        string.Equals(authority.TrimEnd('/'), issuer.TrimEnd('/'), StringComparison.Ordinal);

    private static bool EvaluateRegions(ParsedPolicy policy, JsonElement claims, List<PolicyFailure> failures)
    {
        if (policy.Regions is null)
        {
            return true;
        }

        string path = JsonPathText.Member(JsonPathText.Root, "x-enclave-regions");
        if (!TryGetClaim(claims, [KnownClaims.Region], out JsonElement region))
        {
            failures.Add(new PolicyFailure(ReasonCode.RegionNotAllowed, path, KnownClaims.Region,
                "the token carries no region claim"));
            return false;
        }

        if (region.ValueKind != JsonValueKind.String)
        {
            failures.Add(new PolicyFailure(ReasonCode.RegionNotAllowed, path, KnownClaims.Region,
                $"the region claim is a {Describe(region.ValueKind)}, not a string"));
            return false;
        }

        string value = region.GetString()!;
        if (!policy.Regions.Contains(value, StringComparer.Ordinal))
        {
            failures.Add(new PolicyFailure(ReasonCode.RegionNotAllowed, path, KnownClaims.Region,
                $"region {Show(value)} is not one of [{string.Join(", ", policy.Regions)}]"));
            return false;
        }

        return true;
    }

    private static bool Evaluate(PolicyCondition condition, JsonElement claims, List<PolicyFailure> failures) =>
        condition switch
        {
            ConditionGroup group => EvaluateGroup(group, claims, failures),
            ClaimCondition claim => EvaluateClaim(claim, claims, failures),
            _ => throw new InvalidOperationException("Unknown policy node."),
        };

    private static bool EvaluateGroup(ConditionGroup group, JsonElement claims, List<PolicyFailure> failures)
    {
        var local = new List<PolicyFailure>();
        int satisfied = 0;
        foreach (PolicyCondition condition in group.Conditions)
        {
            if (Evaluate(condition, claims, local))
            {
                satisfied++;
            }
        }

        bool ok = group.RequireAll ? satisfied == group.Conditions.Count : satisfied > 0;
        if (!ok)
        {
            failures.AddRange(local);
        }

        return ok;
    }

    private static bool EvaluateClaim(ClaimCondition condition, JsonElement claims, List<PolicyFailure> failures)
    {
        bool present = TryGetClaim(claims, condition.Segments, out JsonElement value);
        string op = ClaimOperators.JsonName(condition.Operator);
        string? problem;
        if (condition.Operator == ClaimOperator.Exists)
        {
            bool wanted = condition.Operand.ValueKind == JsonValueKind.True;
            problem = present == wanted
                ? null
                : wanted ? "the claim is missing" : $"the claim is present ({Show(value)}) but must be absent";
        }
        else if (!present)
        {
            problem = $"the claim is missing; {op} {Show(condition.Operand)} required";
        }
        else if (Kind(value) != Kind(condition.Operand))
        {
            problem = $"type mismatch: the claim is a {Describe(value.ValueKind)} ({Show(value)}), "
                + $"the policy value a {Describe(condition.Operand.ValueKind)} ({Show(condition.Operand)})";
        }
        else
        {
            bool holds = condition.Operator switch
            {
                ClaimOperator.EqualTo => ValuesEqual(condition, value),
                ClaimOperator.NotEqualTo => !ValuesEqual(condition, value),
                _ => Order(condition.Operator, CompareNumbers(value, condition.Operand)),
            };
            problem = holds ? null : $"{Show(value)} does not satisfy {op} {Show(condition.Operand)}";
        }

        if (problem is null)
        {
            return true;
        }

        failures.Add(new PolicyFailure(
            KnownClaims.ReasonFor(condition.Claim),
            condition.Path,
            condition.Claim,
            $"claim \"{condition.Claim}\": {problem}"));
        return false;
    }

    private static bool Order(ClaimOperator op, int comparison) => op switch
    {
        ClaimOperator.LessThan => comparison < 0,
        ClaimOperator.LessThanOrEqualTo => comparison <= 0,
        ClaimOperator.GreaterThan => comparison > 0,
        ClaimOperator.GreaterThanOrEqualTo => comparison >= 0,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    private static bool ValuesEqual(ClaimCondition condition, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                string actual = value.GetString()!;
                string expected = condition.Operand.GetString()!;
                bool ignoreCase = KnownClaims.IsMeasurement(condition.Claim) && IsHex(actual) && IsHex(expected);
                return string.Equals(actual, expected, ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
            case JsonValueKind.Number:
                return CompareNumbers(value, condition.Operand) == 0;
            default:
                return value.ValueKind == condition.Operand.ValueKind;
        }
    }

    private static int CompareNumbers(JsonElement left, JsonElement right)
    {
        if (left.TryGetDecimal(out decimal l) && right.TryGetDecimal(out decimal r))
        {
            return l.CompareTo(r);
        }

        double ld = left.TryGetDouble(out double a) ? a : double.NaN;
        double rd = right.TryGetDouble(out double b) ? b : double.NaN;
        if (double.IsNaN(ld) || double.IsNaN(rd))
        {
            // An unrepresentable claim number cannot satisfy an ordering; report it as unequal and below.
            return -1;
        }

        return ld.CompareTo(rd);
    }

    internal static bool TryGetClaim(JsonElement claims, IReadOnlyList<string> segments, out JsonElement value)
    {
        value = claims;
        foreach (string segment in segments)
        {
            if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(segment, out JsonElement next))
            {
                value = default;
                return false;
            }

            value = next;
        }

        if (value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            value = default;
            return false;
        }

        return true;
    }

    private static int Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => 1,
        JsonValueKind.Number => 2,
        JsonValueKind.True or JsonValueKind.False => 3,
        JsonValueKind.Object => 4,
        JsonValueKind.Array => 5,
        _ => 0,
    };

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        _ => "null",
    };

    private static bool IsHex(string text)
    {
        if (text.Length == 0)
        {
            return false;
        }

        foreach (char c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    private static string Show(string? text)
    {
        if (text is null)
        {
            return "(none)";
        }

        string shown = text.Length > MaxShownValueLength ? text[..MaxShownValueLength] + "..." : text;
        return "\"" + shown + "\"";
    }

    private static string Show(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.String => Show(element.GetString()),
        JsonValueKind.Number => element.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Object => "{...}",
        JsonValueKind.Array => "[...]",
        _ => "null",
    };
}
