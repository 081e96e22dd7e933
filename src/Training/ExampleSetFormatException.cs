namespace Enclave.Training;

/// <summary>
/// The plaintext of a dataset is not a well-formed example set (docs/formats.md section 6).
/// The message names the offending field.
/// </summary>
public sealed class ExampleSetFormatException : Exception
{
    public ExampleSetFormatException()
        : base("The example set is malformed.")
    {
    }

    public ExampleSetFormatException(string message)
        : base(message)
    {
    }

    public ExampleSetFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
