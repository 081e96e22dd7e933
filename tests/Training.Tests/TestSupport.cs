using System.Diagnostics;

using Enclave.Testing;

namespace Enclave.Training.Tests;

/// <summary>Repository paths, Fashion-MNIST samples and process helpers for the training tests.</summary>
internal static class TestSupport
{
    public const string FashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    /// <summary>The folder that holds Directory.Build.props.</summary>
    public static string RepoRoot => s_repoRoot.Value;

    /// <summary>The first <paramref name="count"/> examples of a Fashion-MNIST split as an example set.</summary>
    public static ExampleSet LoadFashionMnist(string prefix, int count, int skip = 0)
    {
        (byte[] labels, byte[] pixels) = FashionMnistSample.Read(prefix, count, skip);
        return ExampleSet.Create(labels, pixels, 28, 28);
    }

    /// <summary>A model vector initialised like torch's Linear layers, from a fixed seed.</summary>
    public static float[] InitialModel(int hidden, int seed)
    {
        var random = new Random(seed);
        var model = new float[(795 * hidden) + 10];
        int layer1 = (784 * hidden) + hidden;
        for (int i = 0; i < model.Length; i++)
        {
            float bound = i < layer1 ? 1f / MathF.Sqrt(784) : 1f / MathF.Sqrt(hidden);
            model[i] = (float)(((2 * random.NextDouble()) - 1) * bound);
        }

        return model;
    }

    /// <summary>Runs a program to completion and returns its exit code and output.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {fileName}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish");
        }

        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>Output of a program that must succeed.</summary>
    public static string RunChecked(string fileName, params string[] arguments)
    {
        (int exitCode, string stdout, string stderr) = Run(fileName, arguments);
        Assert.True(exitCode == 0, $"{fileName} {string.Join(' ', arguments)} exited {exitCode}: {stderr}");
        return stdout;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Directory.Build.props")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Directory.Build.props above {AppContext.BaseDirectory}");
    }
}
