using Enclave.Hosting;
using Enclave.Protocol;
using Enclave.Testing;

namespace Enclave.Cli.Tests;

public sealed class ServeCommandTests
{
    [Fact]
    public async Task AServiceToldToListenOnATakenPortExitsWithAUsageErrorNamingIt()
    {
        using ServiceListener taken = ServiceListener.Bind("127.0.0.1", 0);
        using var directory = new TempDirectory("enclave-serve");
        CliResult result = await CliRunner.RunAsync(TimeSpan.FromMinutes(1),
            "serve", "broker", "--data-dir", directory.Path, "--verifier-issuer", "http://127.0.0.1:1", "--simulated",
            "--verifier-key-thumbprint", new string('A', 43), "--dev-allow-http-verifier", "--dev-cleartext",
            "--grpc-port", taken.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"127.0.0.1:{taken.Port}", result.Error, StringComparison.Ordinal);
        Assert.Contains("already in use", result.Error, StringComparison.Ordinal);
    }

}
