using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using TorchSharp;

namespace Enclave.Training.Tests;

/// <summary>
/// TorchSharp's native bridge must load on the build machine's libstdc++; the build patches the copy in each
/// output folder (build/fix-torchsharp-native.sh) and never the package cache.
/// </summary>
public sealed partial class TorchSharpNativeTests
{
    private const string NativeLibrary = "libLibTorchSharp.so";
    private const string Shim = "libenclave_glibcxx_shim.so";
    private const string NeededVersion = "GLIBCXX_3.4.32";

    [Fact]
    public void TorchSharpLoadsAndComputes()
    {
        using var a = torch.tensor(new float[] { 1, 2, 3, 4 }, [2, 2]);
        using var b = torch.ones(2, 2);
        using var product = a.matmul(b);
        using var sum = product.sum();

        Assert.Equal(20f, sum.item<float>());
    }

    [Fact]
    public void OutputCopyIsPatchedExactlyWhenTheSystemLacksTheVersion()
    {
        string[] libraries = Directory.GetFiles(AppContext.BaseDirectory, NativeLibrary, SearchOption.AllDirectories);
        bool systemHasVersion = SystemLibstdcxxHasVersion();

        Assert.NotEmpty(libraries);
        foreach (string library in libraries)
        {
            Assert.Equal(!systemHasVersion, RequirementIsWeak(library));
            Assert.Equal(!systemHasVersion, NeedsShim(library));
            Assert.Equal(!systemHasVersion, File.Exists(Path.Combine(Path.GetDirectoryName(library)!, Shim)));
        }
    }

    [Fact]
    public void PackageCacheCopyIsLeftPristine()
    {
        string pristine = PristineLibrary();

        Assert.True(RequiresVersion(pristine), $"{pristine} no longer names {NeededVersion}");
        Assert.False(RequirementIsWeak(pristine), $"{pristine} was patched in the package cache");
        Assert.False(NeedsShim(pristine), $"{pristine} was patched in the package cache");
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(pristine)!, Shim)));
    }

    [Fact]
    public void ForcedFixPatchesAFreshCopyAndIsIdempotent()
    {
        string pristine = PristineLibrary();
        byte[] pristineHash = Hash(pristine);
        string folder = Directory.CreateTempSubdirectory("enclave-native-fix-").FullName;
        try
        {
            string copy = Path.Combine(folder, NativeLibrary);
            File.Copy(pristine, copy);
            string script = Path.Combine(TestSupport.RepoRoot, "build", "fix-torchsharp-native.sh");

            string first = TestSupport.RunChecked("bash", script, folder, "--force");

            Assert.Contains("patched", first, StringComparison.Ordinal);
            Assert.True(RequirementIsWeak(copy));
            Assert.True(NeedsShim(copy));
            Assert.True(File.Exists(Path.Combine(folder, Shim)));
            Assert.DoesNotContain(
                "ios_base_library_initv@" + NeededVersion,
                TestSupport.RunChecked("readelf", "--dyn-syms", "-W", copy),
                StringComparison.Ordinal);
            byte[] patchedHash = Hash(copy);
            byte[] shimHash = Hash(Path.Combine(folder, Shim));

            string second = TestSupport.RunChecked("bash", script, folder, "--force");

            Assert.DoesNotContain("patched", second, StringComparison.Ordinal);
            Assert.Equal(patchedHash, Hash(copy));
            Assert.Equal(shimHash, Hash(Path.Combine(folder, Shim)));
            Assert.Equal(pristineHash, Hash(pristine));
            Assert.False(RequirementIsWeak(pristine));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static string PristineLibrary()
    {
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string path = Path.Combine(cache, "torchsharp", TorchSharpVersion(), "runtimes", "linux-x64", "native", NativeLibrary);
        Assert.True(File.Exists(path), $"{path} does not exist");
        return path;
    }

    private static string TorchSharpVersion()
    {
        XDocument packages = XDocument.Load(Path.Combine(TestSupport.RepoRoot, "Directory.Packages.props"));
        return packages.Descendants("PackageVersion")
            .Single(e => (string?)e.Attribute("Include") == "TorchSharp")
            .Attribute("Version")!.Value;
    }

    private static bool RequiresVersion(string library) =>
        VersionLine(library) is not null;

    private static bool RequirementIsWeak(string library)
    {
        string? line = VersionLine(library);
        Assert.NotNull(line);
        Match flags = FlagsField().Match(line);
        Assert.True(flags.Success, $"no flags in '{line}'");
        return flags.Groups["flags"].Value.Contains("WEAK", StringComparison.Ordinal);
    }

    private static string? VersionLine(string library) =>
        TestSupport.RunChecked("readelf", "-V", "-W", library)
            .Split('\n')
            .FirstOrDefault(l => l.Contains("Name: " + NeededVersion, StringComparison.Ordinal));

    private static bool NeedsShim(string library) =>
        TestSupport.RunChecked("readelf", "-d", "-W", library)
            .Split('\n')
            .Any(l => l.Contains("(NEEDED)", StringComparison.Ordinal) && l.Contains($"[{Shim}]", StringComparison.Ordinal));

    /// <summary>Same test as the build script: the libstdc++ the loader would pick names the version.</summary>
    private static bool SystemLibstdcxxHasVersion()
    {
        string? path = null;
        (int exitCode, string cache, _) = TestSupport.Run("/sbin/ldconfig", "-p");
        if (exitCode == 0)
        {
            path = cache.Split('\n')
                .Where(l => l.Contains("libstdc++.so.6 ", StringComparison.Ordinal) && l.Contains("x86-64", StringComparison.Ordinal))
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1])
                .FirstOrDefault();
        }

        path ??= "/usr/lib/x86_64-linux-gnu/libstdc++.so.6";
        return File.Exists(path) && File.ReadAllBytes(path).AsSpan().IndexOf(System.Text.Encoding.ASCII.GetBytes(NeededVersion)) >= 0;
    }

    private static byte[] Hash(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return SHA256.HashData(stream);
    }

    [GeneratedRegex(@"Flags:\s*(?<flags>.*?)\s+Version:")]
    private static partial Regex FlagsField();
}
