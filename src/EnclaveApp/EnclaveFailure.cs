namespace Enclave.EnclaveApp;

/// <summary>A refusal the enclave reports to the host as a typed failure (code and message), not a crash.</summary>
internal sealed class EnclaveFailure : Exception
{
    public EnclaveFailure(string code, string message)
        : base(message)
    {
        Code = code;
    }

    public string Code { get; }
}
