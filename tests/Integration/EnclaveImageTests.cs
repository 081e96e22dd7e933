// `enclave image configure` and the enclave program as a host launches it: the trust anchors come from the image,
// an image for hardware never falls back to the simulated platform, and an unconfigured build does not start.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.Crypto;
using Enclave.Testing;

namespace Enclave.Integration.Tests;

public sealed class EnclaveImageTests : IDisposable
{
    private readonly TempDirectory _directory = new("enclave-image");
    private readonly string _verifierKeys;
    private readonly string _coordinatorKey;
    private readonly string _platform;

    public EnclaveImageTests()
    {
        using var verifier = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var coordinator = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        _verifierKeys = _directory.Combine("verifier-keys.jwks");
        File.WriteAllText(_verifierKeys, new JwkSet([Jwk.FromEcPublic(verifier.ExportParameters(false), kid: "v1", use: "sig")]).ToJson());
        _coordinatorKey = _directory.Combine("coordinator.jwk");
        File.WriteAllText(_coordinatorKey, Jwk.FromEcPublic(coordinator.ExportParameters(false), use: "sig").ToJson());
        string root = _directory.Combine("root");
        SimulatedPlatformAuthority.CreateRoot(root);
        _platform = _directory.Combine("platform");
        SimulatedPlatformAuthority.CreatePlatform(root, _platform);
    }

    [Fact]
    public async Task AHardwareImageNeverFallsBackToTheSimulatedPlatformWhateverTheHostPasses()
    {
        string image = _directory.Combine("hardware");
        CliResult configured = await Configure(image);
        Assert.True(configured.ExitCode == 0, configured.Error);
        JsonObject result = (JsonObject)JsonNode.Parse(configured.Output)!;
        Assert.Equal("hardware", result["mode"]!.GetValue<string>());
        Assert.Equal(Convert.ToHexStringLower(CodeManifest.Measure(image)), result["measurement"]!.GetValue<string>());

        (int exit, string error) = RunEnclave(image, "--platform-dir", _platform);
        Assert.Equal(4, exit);
        Assert.Contains("no attestation hardware", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheConfigurationIsInsideTheMeasurementAndAnUnconfiguredBuildDoesNotStart()
    {
        string simulated = _directory.Combine("simulated");
        string hardware = _directory.Combine("hardware");
        Assert.Equal(0, (await Configure(simulated, "--simulated")).ExitCode);
        Assert.Equal(0, (await Configure(hardware)).ExitCode);
        Assert.NotEqual(CodeManifest.Measure(simulated), CodeManifest.Measure(hardware));

        // The same build and keys with another coordinator: another measurement.
        string other = _directory.Combine("other-coordinator");
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(_directory.Combine("other.jwk"), Jwk.FromEcPublic(key.ExportParameters(false)).ToJson());
        }

        Assert.Equal(0, (await CliRunner.RunAsync(TimeSpan.FromMinutes(2), "image", "configure", "--build", RepositoryPaths.EnclaveAppDirectory, "--out", other, "--link",
            "--verifier-issuer", "https://verifier.test", "--verifier-keys", _verifierKeys, "--coordinator-key", _directory.Combine("other.jwk"), "--simulated")).ExitCode);
        Assert.NotEqual(CodeManifest.Measure(simulated), CodeManifest.Measure(other));

        (int exit, string error) = RunEnclave(RepositoryPaths.EnclaveAppDirectory, "--platform-dir", _platform);
        Assert.Equal(2, exit);
        Assert.Contains("has no configuration", error, StringComparison.Ordinal);

        File.WriteAllText(Path.Combine(simulated, EnclaveConfiguration.FileName), "{\"type\":\"enclave-config/1\",\"mode\":\"simulated\",\"mode\":\"hardware\"}");
        (exit, error) = RunEnclave(simulated, "--platform-dir", _platform);
        Assert.Equal(2, exit);
        Assert.Contains("malformed", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadConfigureInputIsOneLineAndExitTwoWithNothingWritten()
    {
        string image = _directory.Combine("image");
        Directory.CreateDirectory(image);
        File.WriteAllText(Path.Combine(image, "keep.txt"), "not the demo's");
        CliResult notEmpty = await Configure(image);
        Assert.Equal(2, notEmpty.ExitCode);
        Assert.Contains("not empty", notEmpty.Error, StringComparison.Ordinal);
        Assert.Equal(["keep.txt"], Directory.GetFiles(image).Select(Path.GetFileName));

        File.WriteAllText(_directory.Combine("bad.jwk"), "{\"kty\":\"EC\"}");
        CliResult badKey = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "image", "configure", "--build", RepositoryPaths.EnclaveAppDirectory, "--out", _directory.Combine("fresh"),
            "--verifier-issuer", "https://verifier.test", "--verifier-keys", _directory.Combine("bad.jwk"), "--coordinator-key", _coordinatorKey);
        Assert.Equal(2, badKey.ExitCode);
        Assert.Contains("--verifier-keys", badKey.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_directory.Combine("fresh")));

        CliResult noBuild = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "image", "configure", "--build", _directory.Path, "--out", _directory.Combine("fresh"),
            "--verifier-issuer", "https://verifier.test", "--verifier-keys", _verifierKeys, "--coordinator-key", _coordinatorKey);
        Assert.Equal(2, noBuild.ExitCode);
        Assert.Contains("no enclave build", noBuild.Error, StringComparison.Ordinal);
    }

    private Task<CliResult> Configure(string image, params string[] extra) =>
        CliRunner.RunAsync(TimeSpan.FromMinutes(2), [
            "image", "configure", "--build", RepositoryPaths.EnclaveAppDirectory, "--out", image, "--link", "--json",
            "--verifier-issuer", "https://verifier.test", "--verifier-keys", _verifierKeys, "--coordinator-key", _coordinatorKey, .. extra]);

    private static (int ExitCode, string Error) RunEnclave(string image, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(image, "Enclave.EnclaveApp.dll"));
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        process.StandardInput.Close();
        string error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(1)));
        return (process.ExitCode, error);
    }

    public void Dispose() => _directory.Dispose();
}
