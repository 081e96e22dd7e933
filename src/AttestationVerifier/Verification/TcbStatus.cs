namespace Enclave.AttestationVerifier.Verification;

/// <summary>TCB status names as Intel PCS and Azure Attestation spell them.</summary>
public static class TcbStatus
{
    public const string UpToDate = "UpToDate";
    public const string SWHardeningNeeded = "SWHardeningNeeded";
    public const string ConfigurationNeeded = "ConfigurationNeeded";
    public const string ConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded";
    public const string OutOfDate = "OutOfDate";
    public const string OutOfDateConfigurationNeeded = "OutOfDateConfigurationNeeded";
    public const string Revoked = "Revoked";
}
