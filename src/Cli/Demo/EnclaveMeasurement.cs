using Enclave.Cli.Commands;
using Enclave.Crypto;

namespace Enclave.Cli.Demo;

internal static class EnclaveMeasurement
{
    /// <summary>The measurement a release policy must allow for the enclave build in <paramref name="directory"/>.</summary>
    public static string Compute(string directory)
    {
        try
        {
            return Convert.ToHexStringLower(CodeManifest.Measure(directory));
        }
        catch (Exception ex) when (ex is DirectoryNotFoundException or FileNotFoundException)
        {
            throw new CliException($"no enclave build at {directory}: {ex.Message}");
        }
    }
}
