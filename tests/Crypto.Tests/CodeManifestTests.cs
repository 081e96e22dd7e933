using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;

namespace Enclave.Crypto.Tests;

/// <summary>The simulated measurement covers every file of an enclave image: one case per kind of file a .NET
/// enclave build holds, each edited, replaced, removed and renamed.</summary>
public sealed class CodeManifestTests : IDisposable
{
    private static readonly string[] s_files =
    [
        "Enclave.EnclaveApp.dll",
        "Enclave.Crypto.dll",
        "Google.Protobuf.dll",
        "TorchSharp.dll",
        "Enclave.EnclaveApp.deps.json",
        "Enclave.EnclaveApp.runtimeconfig.json",
        "Enclave.EnclaveApp.pdb",
        "Enclave.EnclaveApp",
        "enclave.config.json",
        "runtimes/linux-x64/native/libtorch_cpu.so",
        "runtimes/linux-x64/native/libLibTorchSharp.so",
    ];

    private readonly string _root = Path.Combine(Path.GetTempPath(), "enclave-manifest-" + Guid.NewGuid().ToString("N"));
    private readonly string _image;

    public CodeManifestTests()
    {
        _image = Path.Combine(_root, "image");
        foreach (string file in s_files)
        {
            string path = Path.Combine(_image, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, Encoding.UTF8.GetBytes("content of " + file));
        }
    }

    public static TheoryData<string> Files() => [.. s_files];

    [Theory]
    [MemberData(nameof(Files))]
    public void EditingAnyFileChangesTheMeasurement(string file)
    {
        byte[] before = CodeManifest.Measure(_image);
        using (var stream = new FileStream(Path.Combine(_image, file), FileMode.Append))
        {
            stream.WriteByte(0);
        }

        Assert.NotEqual(before, CodeManifest.Measure(_image));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void ReplacingAnyFileWithOtherBytesOfTheSameLengthChangesTheMeasurement(string file)
    {
        byte[] before = CodeManifest.Measure(_image);
        string path = Path.Combine(_image, file);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[0] ^= 1;
        File.Delete(path);
        File.WriteAllBytes(path, bytes);
        Assert.NotEqual(before, CodeManifest.Measure(_image));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void RemovingOrRenamingAnyFileChangesTheMeasurement(string file)
    {
        if (file == CodeManifest.EntryAssembly)
        {
            return;
        }

        byte[] before = CodeManifest.Measure(_image);
        string path = Path.Combine(_image, file);
        File.Move(path, path + ".moved");
        byte[] renamed = CodeManifest.Measure(_image);
        File.Delete(path + ".moved");
        byte[] removed = CodeManifest.Measure(_image);
        Assert.NotEqual(before, renamed);
        Assert.NotEqual(before, removed);
        Assert.NotEqual(renamed, removed);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void ALinkedFileIsMeasuredByItsContent(string file)
    {
        byte[] before = CodeManifest.Measure(_image);
        string path = Path.Combine(_image, file);
        string outside = Path.Combine(_root, "outside-" + Path.GetFileName(file));
        File.Move(path, outside);
        File.CreateSymbolicLink(path, outside);
        Assert.Equal(before, CodeManifest.Measure(_image));

        File.AppendAllText(outside, "changed behind the link");
        Assert.NotEqual(before, CodeManifest.Measure(_image));
    }

    [Fact]
    public void AddingAFileAnywhereChangesTheMeasurement()
    {
        byte[] before = CodeManifest.Measure(_image);
        File.WriteAllText(Path.Combine(_image, "runtimes", "linux-x64", "native", "libextra.so"), "x");
        Assert.NotEqual(before, CodeManifest.Measure(_image));
    }

    [Fact]
    public void TheMeasurementIsTheSha256OfTheManifestOfRelativePathsAndDigests()
    {
        string manifest = CodeManifest.Manifest(_image);
        Assert.Equal(s_files.Length, manifest.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains($"runtimes/linux-x64/native/libtorch_cpu.so {Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("content of runtimes/linux-x64/native/libtorch_cpu.so")))}\n", manifest, StringComparison.Ordinal);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(manifest)), CodeManifest.Measure(_image));
    }

    [Fact]
    public void ALinkedFolderIsRefusedAndAFolderWithoutTheEntryAssemblyIsNotAnImage()
    {
        string natives = Path.Combine(_root, "natives");
        Directory.CreateDirectory(natives);
        Directory.CreateSymbolicLink(Path.Combine(_image, "linked"), natives);
        Assert.Throws<InvalidDataException>(() => CodeManifest.Measure(_image));

        Directory.Delete(Path.Combine(_image, "linked"));
        File.Delete(Path.Combine(_image, CodeManifest.EntryAssembly));
        Assert.Throws<FileNotFoundException>(() => CodeManifest.Measure(_image));
        Assert.Throws<DirectoryNotFoundException>(() => CodeManifest.Measure(Path.Combine(_root, "missing")));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
