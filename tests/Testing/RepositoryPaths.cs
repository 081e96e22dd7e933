namespace Enclave.Testing;

/// <summary>Locations in the checkout that tests need: the root, and the build of the `enclave` command.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The configuration the tests were built in (Debug or Release), read from their own path.</summary>
    public static string Configuration { get; } =
        AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";

    public static string CliAssembly => Path.Combine(Root, "src", "Cli", "bin", Configuration, "net10.0", "enclave.dll");

    public static string EnclaveAppDirectory => Path.Combine(Root, "src", "Cli", "bin", Configuration, "net10.0", "enclave-app");

    public static string FashionMnist => "/usr/share/datasets/fashion-mnist";

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Enclave.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Enclave.sln above {AppContext.BaseDirectory}");
    }
}
