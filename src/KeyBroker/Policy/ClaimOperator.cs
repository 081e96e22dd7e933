namespace Enclave.KeyBroker.Policy;

/// <summary>The comparison operators of the secure-key-release grammar, with their JSON names.</summary>
internal enum ClaimOperator
{
    EqualTo,
    NotEqualTo,
    LessThan,
    LessThanOrEqualTo,
    GreaterThan,
    GreaterThanOrEqualTo,
    Exists,
}

internal static class ClaimOperators
{
    public static string JsonName(ClaimOperator op) => op switch
    {
        ClaimOperator.EqualTo => "equals",
        ClaimOperator.NotEqualTo => "notEquals",
        ClaimOperator.LessThan => "less",
        ClaimOperator.LessThanOrEqualTo => "lessOrEquals",
        ClaimOperator.GreaterThan => "greater",
        ClaimOperator.GreaterThanOrEqualTo => "greaterOrEquals",
        ClaimOperator.Exists => "exists",
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    public static ClaimOperator? FromJsonName(string name) => name switch
    {
        "equals" => ClaimOperator.EqualTo,
        "notEquals" => ClaimOperator.NotEqualTo,
        "less" => ClaimOperator.LessThan,
        "lessOrEquals" => ClaimOperator.LessThanOrEqualTo,
        "greater" => ClaimOperator.GreaterThan,
        "greaterOrEquals" => ClaimOperator.GreaterThanOrEqualTo,
        "exists" => ClaimOperator.Exists,
        _ => null,
    };

    public static bool IsOrdering(ClaimOperator op) =>
        op is ClaimOperator.LessThan or ClaimOperator.LessThanOrEqualTo
            or ClaimOperator.GreaterThan or ClaimOperator.GreaterThanOrEqualTo;
}
