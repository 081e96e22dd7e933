namespace Enclave.Cli.Demo;

internal static class DemoPaths
{
    /// <summary>The enclave build this program carries (see build/EnclaveCopy.targets).</summary>
    public static string DefaultEnclaveDirectory => Path.Combine(AppContext.BaseDirectory, "enclave-app");
}
