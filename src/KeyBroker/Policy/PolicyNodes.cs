using System.Text.Json;

namespace Enclave.KeyBroker.Policy;

/// <summary>A node of a parsed release policy; <see cref="Path"/> is its JSONPath in the document.</summary>
internal abstract class PolicyCondition
{
    protected PolicyCondition(string path)
    {
        Path = path;
    }

    public string Path { get; }
}

/// <summary><c>{"anyOf": [...]}</c> or <c>{"allOf": [...]}</c>.</summary>
internal sealed class ConditionGroup : PolicyCondition
{
    public ConditionGroup(string path, bool requireAll, IReadOnlyList<PolicyCondition> conditions)
        : base(path)
    {
        RequireAll = requireAll;
        Conditions = conditions;
    }

    public bool RequireAll { get; }

    public IReadOnlyList<PolicyCondition> Conditions { get; }
}

/// <summary><c>{"claim": "a.b.c", "&lt;operator&gt;": value}</c>. <see cref="Operand"/> is detached from
/// the source document.</summary>
internal sealed class ClaimCondition : PolicyCondition
{
    public ClaimCondition(string path, string claim, ClaimOperator op, JsonElement operand)
        : base(path)
    {
        Claim = claim;
        Segments = claim.Split('.');
        Operator = op;
        Operand = operand;
    }

    public string Claim { get; }

    public string[] Segments { get; }

    public ClaimOperator Operator { get; }

    public JsonElement Operand { get; }
}

/// <summary><c>{"authority": "https://...", "anyOf"|"allOf": [...]}</c>.</summary>
internal sealed class AuthorityRule
{
    public AuthorityRule(string path, string authority, ConditionGroup conditions)
    {
        Path = path;
        Authority = authority;
        Conditions = conditions;
    }

    public string Path { get; }

    public string Authority { get; }

    public ConditionGroup Conditions { get; }
}
