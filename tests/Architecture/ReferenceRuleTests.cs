// The reference rules of DESIGN.md, checked against the compiled assemblies (what actually loads) and, for the
// TorchSharp rule, against the sources (which folder may name it).
using System.Reflection;

namespace Enclave.Architecture.Tests;

public sealed class ReferenceRuleTests
{
    private static readonly string[] s_platform = ["System", "Microsoft", "netstandard", "mscorlib"];

    [Theory]
    [InlineData("Enclave.Crypto", new string[0], new string[0])]
    [InlineData("Enclave.Protocol", new string[0], new[] { "Google.Protobuf", "Grpc.Core.Api" })]
    [InlineData("Enclave.SecureAggregation", new[] { "Enclave.Crypto" }, new string[0])]
    // The hosting layer is the one subscriber to the components' System.Diagnostics.Metrics meters (OpenTelemetry).
    [InlineData("Enclave.Hosting", new[] { "Enclave.Protocol" }, new[] { "Grpc.", "OpenTelemetry" })]
    [InlineData("Enclave.EnclaveHost", new[] { "Enclave.Protocol", "Enclave.Hosting" }, new[] { "Google.Protobuf", "Grpc." })]
    public void AssemblyReferencesOnlyWhatTheRulesAllow(string assembly, string[] allowedProjects, string[] allowedPackages)
    {
        foreach (AssemblyName reference in References(assembly))
        {
            string name = reference.Name!;
            bool allowed = s_platform.Any(p => name == p || name.StartsWith(p + ".", StringComparison.Ordinal))
                || allowedProjects.Contains(name)
                || allowedPackages.Any(p => name.StartsWith(p, StringComparison.Ordinal));
            Assert.True(allowed, $"{assembly} must not reference {name}");
        }
    }

    [Fact]
    public void TheUntrustedHostCannotNameAKeyTypeOrTheEnclave()
    {
        string[] names = References("Enclave.EnclaveHost").Select(r => r.Name!).ToArray();
        Assert.DoesNotContain("Enclave.Crypto", names);
        Assert.DoesNotContain("Enclave.EnclaveApp", names);
        Assert.DoesNotContain("Enclave.SecureAggregation", names);
        Assert.DoesNotContain("Enclave.KeyBroker", names);
    }

    // The enclave's whole dependency closure, as its deps.json and runtimeconfig.json make the runtime load it:
    // no ASP.NET Core, no gRPC server or client, no network stack of its own. Everything reaches it through the host.
    [Fact]
    public void TheEnclaveClosureHoldsNoAspNetCoreAndNoGrpcServer()
    {
        string deps = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Enclave.EnclaveApp.deps.json"));
        using var document = System.Text.Json.JsonDocument.Parse(deps);
        string[] libraries = document.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name).ToArray();
        Assert.Contains(libraries, l => l.StartsWith("Google.Protobuf/", StringComparison.Ordinal));
        string[] forbidden = ["Microsoft.AspNetCore", "Grpc.AspNetCore", "Grpc.Net.", "Enclave.Hosting/", "Enclave.EnclaveHost/", "Enclave.KeyBroker/", "Enclave.AttestationVerifier/"];
        Assert.DoesNotContain(libraries, l => forbidden.Any(f => l.StartsWith(f, StringComparison.Ordinal)));

        string runtimeConfig = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Enclave.EnclaveApp.runtimeconfig.json"));
        Assert.DoesNotContain("Microsoft.AspNetCore.App", runtimeConfig, StringComparison.Ordinal);
        Assert.DoesNotContain(References("Enclave.EnclaveApp"), r => r.Name!.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
    }

    [Fact]
    public void TheKeyBrokerNeverReferencesTheVerifier()
    {
        Assert.DoesNotContain(References("Enclave.KeyBroker"), r => r.Name == "Enclave.AttestationVerifier");
    }

    [Theory]
    [InlineData("Enclave.Crypto")]
    [InlineData("Enclave.Protocol")]
    [InlineData("Enclave.Hosting")]
    [InlineData("Enclave.SecureAggregation")]
    [InlineData("Enclave.AttestationVerifier")]
    [InlineData("Enclave.KeyBroker")]
    [InlineData("Enclave.EnclaveHost")]
    [InlineData("Enclave.Aggregator")]
    [InlineData("Enclave.EnclaveApp")]
    [InlineData("enclave")]
    public void OnlyTheTrainingLibraryReferencesTorchSharp(string assembly)
    {
        Assert.DoesNotContain(References(assembly), r => r.Name!.StartsWith("TorchSharp", StringComparison.Ordinal));
    }

    [Fact]
    public void TheTrainingLibraryDoesReferenceTorchSharpAndTheEnclaveTrainsWithIt()
    {
        Assert.Contains(References("Enclave.Training"), r => r.Name == "TorchSharp");
        Assert.Contains(References("Enclave.EnclaveApp"), r => r.Name == "Enclave.Training");
    }

    [Fact]
    public void NoProductSourceOutsideTheTrainingLibraryNamesTorchSharp()
    {
        string src = Path.Combine(RepositoryRoot(), "src");
        string training = Path.Combine(src, "Training") + Path.DirectorySeparatorChar;
        string[] offenders = Directory.GetFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => !f.StartsWith(training, StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f).Contains("TorchSharp", StringComparison.Ordinal))
            .ToArray();
        Assert.Empty(offenders);
    }

    private static AssemblyName[] References(string assembly)
    {
        string path = Path.Combine(AppContext.BaseDirectory, assembly + ".dll");
        Assert.True(File.Exists(path), $"{path} is not in the test output");
        return Assembly.LoadFrom(path).GetReferencedAssemblies();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Enclave.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("repository root not found");
    }
}
