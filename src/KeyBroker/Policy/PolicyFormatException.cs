namespace Enclave.KeyBroker.Policy;

/// <summary>A release policy document was rejected when it was loaded. <see cref="JsonPath"/> names the
/// offending member, for example <c>$.anyOf[0].allOf[2].equals</c>.</summary>
public sealed class PolicyFormatException : FormatException
{
    public PolicyFormatException(string jsonPath, string reason)
        : base($"Invalid release policy at {jsonPath}: {reason}")
    {
        JsonPath = jsonPath;
        Reason = reason;
    }

    public PolicyFormatException(string jsonPath, string reason, Exception? innerException)
        : base($"Invalid release policy at {jsonPath}: {reason}", innerException)
    {
        JsonPath = jsonPath;
        Reason = reason;
    }

    public string JsonPath { get; }

    public string Reason { get; }
}
