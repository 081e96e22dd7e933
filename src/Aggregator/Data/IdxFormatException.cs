namespace Enclave.Aggregator.Data;

/// <summary>
/// A file is not a well-formed IDX image or label file; the message names the problem.
/// </summary>
public sealed class IdxFormatException : Exception
{
    public IdxFormatException()
        : base("The IDX file is malformed.")
    {
    }

    public IdxFormatException(string message)
        : base(message)
    {
    }

    public IdxFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
