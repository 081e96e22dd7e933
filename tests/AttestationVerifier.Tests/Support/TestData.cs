using Enclave.Testing;

namespace Enclave.AttestationVerifier.Tests.Support;

/// <summary>Locates tests/AttestationVerifier.Tests/TestData (the files are not copied to the output folder).</summary>
internal static class TestData
{
    public static string Root { get; } = Path.Combine(RepositoryPaths.Root, "tests", "AttestationVerifier.Tests", "TestData");

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string ReadText(params string[] parts) => File.ReadAllText(PathOf(parts)).Trim();
}
