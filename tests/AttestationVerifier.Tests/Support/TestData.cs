using System.Runtime.CompilerServices;

namespace Enclave.AttestationVerifier.Tests.Support;

/// <summary>Locates tests/AttestationVerifier.Tests/TestData (the files are not copied to the output folder).</summary>
internal static class TestData
{
    private static readonly Lazy<string> s_root = new(() => FindRoot());

    public static string Root => s_root.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static string ReadText(params string[] parts) => File.ReadAllText(PathOf(parts)).Trim();

    private static string FindRoot([CallerFilePath] string sourceFile = "")
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (string candidate in new[]
            {
                Path.Combine(dir.FullName, "TestData"),
                Path.Combine(dir.FullName, "tests", "AttestationVerifier.Tests", "TestData"),
            })
            {
                if (File.Exists(Path.Combine(candidate, "README.md")))
                {
                    return candidate;
                }
            }
        }

        if (sourceFile.Length > 0)
        {
            string fromSource = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(sourceFile)!, "..", "TestData"));
            if (Directory.Exists(fromSource))
            {
                return fromSource;
            }
        }

        throw new DirectoryNotFoundException("tests/AttestationVerifier.Tests/TestData was not found above " + AppContext.BaseDirectory);
    }
}
