using System.Text.Json.Nodes;
using Enclave.Testing;

namespace Enclave.Integration.Tests;

/// <summary>
/// One small federation, run once for the class: the real `enclave demo` with three regions and small shards,
/// every service its own process on loopback, including the two forbidden key-release attempts.
/// </summary>
public sealed class DemoFixture : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("enclave-demo");

    public string WorkDirectory => _directory.Combine("work");

    public CliResult Result { get; private set; } = null!;

    public JsonObject Json { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        string json = _directory.Combine("demo.json");
        Result = await CliRunner.RunAsync(TimeSpan.FromMinutes(4),
            "demo", "--regions", "eu-west,us-east,ap-south", "--rounds", "2", "--samples-per-region", "3000",
            "--work-dir", WorkDirectory, "--json", json);
        Json = File.Exists(json) ? (JsonObject)JsonNode.Parse(File.ReadAllText(json))! : new JsonObject();
    }

    public Task DisposeAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
