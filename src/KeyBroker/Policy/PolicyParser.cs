// Loader of Key Vault secure-key-release policies ("Azure Key Vault secure key release policy grammar",
// learn.microsoft.com, policy version 1.0.0; version 0.2 documents have the same shape):
//
//   policy    = { "version": "1.0.0" | "0.2", ("anyOf" | "allOf"): [ authority, ... ],
//                 ["x-enclave-regions": [ region, ... ]], ["x-enclave-privacy": budget] }
//   authority = { "authority": string, ("anyOf" | "allOf"): [ condition, ... ] }
//   condition = { "claim": "a.b.c", operator: value } | { "anyOf": [condition, ...] } | { "allOf": [...] }
//   operator  = equals | notEquals | less | lessOrEquals | greater | greaterOrEquals | exists
//   budget    = { "maxEpsilon": number in (0, 100], "delta": number in (0, 0.01] }   (both required)
//
// The published grammar puts "anyOf" at the top; a top-level "allOf" (seen in Microsoft's own examples)
// is accepted and means every listed authority must hold. Keywords match case-insensitively (the EBNF
// writes "anyof", the examples "anyOf"); a member given twice in any spelling is an error, and so is
// any member or operator not listed above. Operands: equals/notEquals take a string, number or boolean;
// the ordering operators a number; exists a boolean. "x-enclave-regions" and "x-enclave-privacy" are this
// product's extensions (a key whose policy has the latter is budgeted: see KeyBrokerService.Privacy.cs).
using System.Text.Json;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Policy;

internal static class PolicyParser
{
    public const int MaxJsonLength = 64 * 1024;
    public const int MaxDepth = 32;
    public const int MaxNodes = 4096;
    public const int MaxClaimLength = 256;
    public const int MaxAuthorityLength = 2048;
    public const int MaxRegions = 64;

    private const string Version = "version";
    private const string AnyOf = "anyOf";
    private const string AllOf = "allOf";
    private const string Authority = "authority";
    private const string Claim = "claim";
    private const string Regions = "x-enclave-regions";
    private const string Privacy = "x-enclave-privacy";
    private const string MaxEpsilon = "maxEpsilon";
    private const string Delta = "delta";

    private static readonly string[] s_operatorNames =
        ["equals", "notEquals", "less", "lessOrEquals", "greater", "greaterOrEquals", "exists"];

    private static readonly string[] s_policyMembers = [Version, AnyOf, AllOf, Regions, Privacy];
    private static readonly string[] s_privacyMembers = [MaxEpsilon, Delta];
    private static readonly string[] s_authorityMembers = [Authority, AnyOf, AllOf];
    private static readonly string[] s_conditionMembers = [Claim, AnyOf, AllOf, Authority, .. s_operatorNames];

    public static ParsedPolicy Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxJsonLength)
        {
            throw new PolicyFormatException(JsonPathText.Root, $"the document is longer than {MaxJsonLength} characters");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions
            {
                MaxDepth = MaxDepth,
                AllowTrailingCommas = false,
                CommentHandling = JsonCommentHandling.Disallow,
            });
        }
        catch (JsonException e)
        {
            throw new PolicyFormatException(
                JsonPathText.Root,
                $"not valid JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})",
                e);
        }

        using (document)
        {
            if (!JsonText.IsValid(document.RootElement))
            {
                throw new PolicyFormatException(JsonPathText.Root, "the document holds a name or string with an unpaired surrogate");
            }

            var state = new ParseState();
            return ParsePolicy(document.RootElement, state);
        }
    }

    private static ParsedPolicy ParsePolicy(JsonElement root, ParseState state)
    {
        string path = JsonPathText.Root;
        Dictionary<string, Member> members = ReadMembers(root, path, s_policyMembers, "policy");

        if (!members.TryGetValue(Version, out Member version))
        {
            throw new PolicyFormatException(path, "the policy has no \"version\"");
        }

        if (version.Value.ValueKind != JsonValueKind.String
            || version.Value.GetString() is not ("1.0.0" or "0.2"))
        {
            throw new PolicyFormatException(version.Path, "\"version\" must be \"1.0.0\" or \"0.2\"");
        }

        (bool requireAll, Member rules) = ReadSelector(members, path, "policy");
        var authorities = new List<AuthorityRule>();
        int index = 0;
        foreach (JsonElement element in ReadArray(rules))
        {
            authorities.Add(ParseAuthority(element, JsonPathText.Index(rules.Path, index), state));
            index++;
        }

        IReadOnlyList<string>? regions = null;
        if (members.TryGetValue(Regions, out Member regionMember))
        {
            regions = ParseRegions(regionMember);
        }

        PrivacyBudget? privacy = members.TryGetValue(Privacy, out Member privacyMember) ? ParsePrivacy(privacyMember) : null;
        return new ParsedPolicy(version.Value.GetString()!, requireAll, authorities, regions, privacy);
    }

    private static AuthorityRule ParseAuthority(JsonElement element, string path, ParseState state)
    {
        state.Count(path);
        Dictionary<string, Member> members = ReadMembers(element, path, s_authorityMembers, "authority rule");
        if (!members.TryGetValue(Authority, out Member authority))
        {
            throw new PolicyFormatException(path, "an entry of the top-level list needs an \"authority\"");
        }

        if (authority.Value.ValueKind != JsonValueKind.String)
        {
            throw new PolicyFormatException(authority.Path, "\"authority\" must be a string");
        }

        string authorityText = authority.Value.GetString()!;
        if (authorityText.Trim().TrimEnd('/').Length == 0 || authorityText.Length > MaxAuthorityLength)
        {
            throw new PolicyFormatException(authority.Path, "\"authority\" must be a non-empty issuer URL");
        }

        (bool requireAll, Member list) = ReadSelector(members, path, "authority rule");
        ConditionGroup group = ParseConditionList(list, requireAll, path, state);
        return new AuthorityRule(path, authorityText, group);
    }

    private static ConditionGroup ParseConditionList(Member list, bool requireAll, string groupPath, ParseState state)
    {
        var conditions = new List<PolicyCondition>();
        int index = 0;
        foreach (JsonElement element in ReadArray(list))
        {
            conditions.Add(ParseCondition(element, JsonPathText.Index(list.Path, index), state));
            index++;
        }

        return new ConditionGroup(groupPath, requireAll, conditions);
    }

    private static PolicyCondition ParseCondition(JsonElement element, string path, ParseState state)
    {
        state.Count(path);
        Dictionary<string, Member> members = ReadMembers(element, path, s_conditionMembers, "condition");
        if (members.TryGetValue(Authority, out Member misplaced))
        {
            throw new PolicyFormatException(misplaced.Path, "\"authority\" is allowed only in the top-level list");
        }

        if (members.ContainsKey(Claim))
        {
            return ParseClaimCondition(members, path);
        }

        if (members.ContainsKey(AnyOf) || members.ContainsKey(AllOf))
        {
            foreach (Member member in members.Values)
            {
                if (member.Keyword is not (AnyOf or AllOf))
                {
                    throw new PolicyFormatException(
                        member.Path, $"\"{member.Name}\" is not allowed in an anyOf/allOf condition");
                }
            }

            (bool requireAll, Member list) = ReadSelector(members, path, "condition");
            return ParseConditionList(list, requireAll, path, state);
        }

        throw new PolicyFormatException(path, "a condition needs \"claim\" and an operator, \"anyOf\" or \"allOf\"");
    }

    private static ClaimCondition ParseClaimCondition(Dictionary<string, Member> members, string path)
    {
        Member claim = members[Claim];
        Member? operatorMember = null;
        foreach (Member member in members.Values)
        {
            if (member.Keyword == Claim)
            {
                continue;
            }

            if (member.Keyword is AnyOf or AllOf)
            {
                throw new PolicyFormatException(
                    member.Path, $"\"{member.Name}\" cannot be combined with \"claim\" in one condition");
            }

            if (operatorMember is not null)
            {
                throw new PolicyFormatException(
                    member.Path, $"a condition takes exactly one operator; \"{operatorMember.Value.Name}\" is already given");
            }

            operatorMember = member;
        }

        if (claim.Value.ValueKind != JsonValueKind.String)
        {
            throw new PolicyFormatException(claim.Path, "\"claim\" must be a string");
        }

        string claimName = claim.Value.GetString()!;
        if (claimName.Length == 0 || claimName.Length > MaxClaimLength || claimName.Split('.').Any(s => s.Length == 0))
        {
            throw new PolicyFormatException(
                claim.Path, "\"claim\" must be a non-empty dotted path of non-empty names (at most 256 characters)");
        }

        if (operatorMember is not Member op)
        {
            throw new PolicyFormatException(
                path, "the condition has no operator (equals, notEquals, less, lessOrEquals, greater, greaterOrEquals, exists)");
        }

        ClaimOperator kind = ClaimOperators.FromJsonName(op.Keyword)!.Value;
        JsonElement operand = op.Value;
        switch (kind)
        {
            case ClaimOperator.Exists:
                if (operand.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw new PolicyFormatException(op.Path, "\"exists\" takes true or false");
                }

                break;
            case ClaimOperator.EqualTo:
            case ClaimOperator.NotEqualTo:
                if (operand.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
                {
                    throw new PolicyFormatException(op.Path, $"\"{op.Keyword}\" takes a string, a number, true or false");
                }

                break;
            default:
                if (operand.ValueKind != JsonValueKind.Number)
                {
                    throw new PolicyFormatException(op.Path, $"\"{op.Keyword}\" takes a number");
                }

                break;
        }

        if (operand.ValueKind == JsonValueKind.Number && !(operand.TryGetDouble(out double d) && double.IsFinite(d)))
        {
            throw new PolicyFormatException(op.Path, "the number is out of range");
        }

        return new ClaimCondition(path, claimName, kind, operand.Clone());
    }

    private static IReadOnlyList<string> ParseRegions(Member member)
    {
        if (member.Value.ValueKind != JsonValueKind.Array)
        {
            throw new PolicyFormatException(member.Path, "\"x-enclave-regions\" must be an array of region names");
        }

        int count = member.Value.GetArrayLength();
        if (count == 0 || count > MaxRegions)
        {
            throw new PolicyFormatException(
                member.Path, $"\"x-enclave-regions\" must list 1 to {MaxRegions} regions (omit it to allow any region)");
        }

        var regions = new List<string>(count);
        int index = 0;
        foreach (JsonElement element in member.Value.EnumerateArray())
        {
            string itemPath = JsonPathText.Index(member.Path, index);
            if (element.ValueKind != JsonValueKind.String || !RegionName.IsValid(element.GetString()))
            {
                throw new PolicyFormatException(itemPath, "a region is 1 to 64 characters of [a-z0-9-]");
            }

            string region = element.GetString()!;
            if (regions.Contains(region, StringComparer.Ordinal))
            {
                throw new PolicyFormatException(itemPath, $"the region \"{region}\" is listed twice");
            }

            regions.Add(region);
            index++;
        }

        return regions;
    }

    private static PrivacyBudget ParsePrivacy(Member member)
    {
        Dictionary<string, Member> members = ReadMembers(member.Value, member.Path, s_privacyMembers, "privacy budget");
        double maxEpsilon = ReadBudgetNumber(members, member.Path, MaxEpsilon, PrivacyBudget.IsValidEpsilon, "(0, 100]");
        double delta = ReadBudgetNumber(members, member.Path, Delta, PrivacyBudget.IsValidDelta, "(0, 0.01]");
        return new PrivacyBudget(maxEpsilon, delta);
    }

    private static double ReadBudgetNumber(
        Dictionary<string, Member> members, string path, string name, Func<double, bool> isValid, string range)
    {
        if (!members.TryGetValue(name, out Member member))
        {
            throw new PolicyFormatException(path, $"\"{Privacy}\" needs \"{name}\"");
        }

        if (member.Value.ValueKind != JsonValueKind.Number)
        {
            throw new PolicyFormatException(member.Path, $"\"{member.Name}\" must be a number");
        }

        if (!member.Value.TryGetDouble(out double value) || !double.IsFinite(value) || !isValid(value))
        {
            throw new PolicyFormatException(member.Path, $"\"{member.Name}\" must be in {range}");
        }

        return value;
    }

    private static (bool RequireAll, Member List) ReadSelector(Dictionary<string, Member> members, string path, string what)
    {
        bool hasAny = members.TryGetValue(AnyOf, out Member any);
        bool hasAll = members.TryGetValue(AllOf, out Member all);
        if (hasAny && hasAll)
        {
            throw new PolicyFormatException(all.Path, $"a {what} takes \"anyOf\" or \"allOf\", not both");
        }

        if (!hasAny && !hasAll)
        {
            throw new PolicyFormatException(path, $"a {what} needs \"anyOf\" or \"allOf\"");
        }

        return hasAll ? (true, all) : (false, any);
    }

    private static JsonElement.ArrayEnumerator ReadArray(Member member)
    {
        if (member.Value.ValueKind != JsonValueKind.Array)
        {
            throw new PolicyFormatException(member.Path, $"\"{member.Name}\" must be an array");
        }

        if (member.Value.GetArrayLength() == 0)
        {
            throw new PolicyFormatException(member.Path, $"\"{member.Name}\" must not be empty");
        }

        return member.Value.EnumerateArray();
    }

    private static Dictionary<string, Member> ReadMembers(
        JsonElement element, string path, IReadOnlyList<string> allowed, string what)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new PolicyFormatException(path, $"a {what} must be a JSON object");
        }

        var members = new Dictionary<string, Member>(StringComparer.Ordinal);
        foreach (JsonProperty property in element.EnumerateObject())
        {
            string memberPath = JsonPathText.Member(path, property.Name);
            string? keyword = null;
            foreach (string candidate in allowed)
            {
                if (string.Equals(candidate, property.Name, StringComparison.OrdinalIgnoreCase))
                {
                    keyword = candidate;
                    break;
                }
            }

            if (keyword is null)
            {
                throw new PolicyFormatException(memberPath, $"unknown member or operator \"{property.Name}\" in a {what}");
            }

            if (!members.TryAdd(keyword, new Member(keyword, property.Name, property.Value, memberPath)))
            {
                throw new PolicyFormatException(memberPath, $"\"{keyword}\" is given more than once");
            }
        }

        return members;
    }

    private readonly record struct Member(string Keyword, string Name, JsonElement Value, string Path);

    private sealed class ParseState
    {
        private int _nodes;

        public void Count(string path)
        {
            if (++_nodes > MaxNodes)
            {
                throw new PolicyFormatException(path, $"the policy has more than {MaxNodes} rules and conditions");
            }
        }
    }
}

/// <summary>The validated content of a policy document.</summary>
internal sealed record ParsedPolicy(
    string Version,
    bool RequireAllAuthorities,
    IReadOnlyList<AuthorityRule> Authorities,
    IReadOnlyList<string>? Regions,
    PrivacyBudget? Privacy);
