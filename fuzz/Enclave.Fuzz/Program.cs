// The fuzz harness. Usage:
//   Enclave.Fuzz --list                          names and parsers of every target
//   Enclave.Fuzz --seeds TARGET DIR [VECTORS]    writes TARGET's generated seeds (and matching test vectors) into DIR
//   Enclave.Fuzz --replay TARGET FILE|DIR...     runs inputs once, without a fuzzer; a finding escapes as an exception
//   Enclave.Fuzz --regress CORPUS [VECTORS]      runs every target over its generated seeds, CORPUS/TARGET/* and its
//                                                test vectors, in process and deterministically; exits 1 on any finding
//   Enclave.Fuzz TARGET                          runs under afl-fuzz (SharpFuzz fork server), input on stdin;
//                                                ENCLAVE_FUZZ_LOG=FILE appends every escaping exception to FILE
using Enclave.Fuzz;
using SharpFuzz;

const int MaxInputLength = 1024 * 1024;

if (args is ["--list"])
{
    foreach (FuzzTarget target in FuzzTargets.All)
    {
        Console.WriteLine($"{target.Name,-28} {target.Parser}");
    }

    return 0;
}

if (args is ["--seeds", string seedTarget, string directory, .. string[] rest] && rest.Length <= 1)
{
    FuzzTarget target = Require(seedTarget);
    Directory.CreateDirectory(directory);
    int written = 0;
    foreach (Seed seed in target.Seeds?.Invoke() ?? [])
    {
        File.WriteAllBytes(Path.Combine(directory, seed.Name), seed.Bytes);
        written++;
    }

    if (rest is [string vectors] && Directory.Exists(vectors))
    {
        foreach ((string sample, VectorFiles files, string file) in VectorInputs(target, vectors))
        {
            File.Copy(file, Path.Combine(directory, $"vector-{sample}-{files.File}"), overwrite: true);
            written++;
        }
    }

    Console.WriteLine($"{target.Name}: {written} seeds");
    return 0;
}

if (args is ["--replay", string replayTarget, .. string[] paths] && paths.Length > 0)
{
    FuzzTarget target = Require(replayTarget);
    int count = 0;
    foreach (string path in paths)
    {
        string[] files = Directory.Exists(path) ? Directory.GetFiles(path).Order(StringComparer.Ordinal).ToArray() : [path];
        foreach (string file in files)
        {
            target.Run(File.ReadAllBytes(file));
            count++;
        }
    }

    Console.WriteLine($"{target.Name}: {count} inputs replayed, no finding");
    return 0;
}

if (args is ["--regress", string corpusRoot, .. string[] regressRest] && regressRest.Length <= 1)
{
    string? vectorRoot = regressRest is [string v] && Directory.Exists(v) ? v : null;
    int findings = 0;
    foreach (FuzzTarget target in FuzzTargets.All)
    {
        int inputs = 0;
        foreach ((string origin, byte[] bytes) in RegressionInputs(target, corpusRoot, vectorRoot))
        {
            inputs++;
            try
            {
                target.Run(bytes);
            }
            catch (Exception ex)
            {
                findings++;
                Console.WriteLine($"regress {target.Name}: FINDING {origin} ({bytes.Length} bytes): {ex.GetType().FullName}: {ex.Message}");
                Console.WriteLine("  " + (ex.StackTrace ?? "").Split('\n').FirstOrDefault()?.Trim());
            }
        }

        Console.WriteLine($"regress {target.Name}: {inputs} inputs");
    }

    Console.WriteLine($"regress: {FuzzTargets.All.Count} targets, {findings} findings");
    return findings == 0 ? 0 : 1;
}

if (args is [string name] && !name.StartsWith('-'))
{
    FuzzTarget target = Require(name);
    byte[] buffer = new byte[MaxInputLength];
    string? log = Environment.GetEnvironmentVariable("ENCLAVE_FUZZ_LOG");
    Fuzzer.OutOfProcess.Run(stream =>
    {
        int length = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        try
        {
            target.Run(buffer.AsSpan(0, length));
        }
        catch (Exception ex) when (Record(log, buffer.AsSpan(0, length), ex))
        {
        }
    });
    return 0;
}

Console.Error.WriteLine("usage: Enclave.Fuzz --list | --seeds TARGET DIR [VECTORS] | --replay TARGET FILE|DIR... | --regress CORPUS [VECTORS] | TARGET");
return 2;

// Appends the finding to the log (when one is configured) and lets the exception go on to the fuzzer.
static bool Record(string? log, ReadOnlySpan<byte> input, Exception exception)
{
    if (!string.IsNullOrEmpty(log))
    {
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(input));
        File.AppendAllText(log, $"input sha256 {hash} ({input.Length} bytes): {exception}{Environment.NewLine}{Environment.NewLine}");
    }

    return false;
}

// A target's regression inputs: its generated seeds, its committed corpus (seeds, minimised campaign queues and
// every past finding) and the shared test vectors of its format, in a fixed order.
static IEnumerable<(string Origin, byte[] Bytes)> RegressionInputs(FuzzTarget target, string corpusRoot, string? vectorRoot)
{
    foreach (Seed seed in target.Seeds?.Invoke() ?? [])
    {
        yield return ($"seed {seed.Name}", seed.Bytes);
    }

    string corpus = Path.Combine(corpusRoot, target.Name);
    if (Directory.Exists(corpus))
    {
        foreach (string file in Directory.GetFiles(corpus).Order(StringComparer.Ordinal))
        {
            yield return (Path.GetRelativePath(corpusRoot, file), File.ReadAllBytes(file));
        }
    }

    if (vectorRoot is null)
    {
        yield break;
    }

    foreach ((string sample, VectorFiles files, string file) in VectorInputs(target, vectorRoot))
    {
        yield return ($"vector {files.Kind}/{sample}/{files.File}", File.ReadAllBytes(file));
    }
}

// The shared test vectors of a target's format, KIND/SAMPLE/FILE, within the input size limit, in a fixed order.
static IEnumerable<(string Sample, VectorFiles Files, string Path)> VectorInputs(FuzzTarget target, string vectorRoot)
{
    foreach (VectorFiles files in target.Vectors)
    {
        string kind = Path.Combine(vectorRoot, files.Kind);
        if (!Directory.Exists(kind))
        {
            continue;
        }

        foreach (string sample in Directory.GetDirectories(kind).Order(StringComparer.Ordinal))
        {
            string file = Path.Combine(sample, files.File);
            if (File.Exists(file) && new FileInfo(file).Length <= MaxInputLength)
            {
                yield return (Path.GetFileName(sample), files, file);
            }
        }
    }
}

static FuzzTarget Require(string name) =>
    FuzzTargets.Find(name) ?? throw new ArgumentException($"no fuzz target named '{name}'; see --list", nameof(name));
