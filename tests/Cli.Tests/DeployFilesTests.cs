using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Enclave.Testing;
using YamlDotNet.RepresentationModel;

namespace Enclave.Cli.Tests;

/// <summary>The files an operator deploys (deploy/): each YAML file parses and has the shape its tool expects, and
/// every `enclave ...` command line in them (Dockerfile CMDs, compose commands and health checks, Kubernetes
/// args and probes, the trial's shell scripts) is accepted by the real command's parser, naming only options that
/// exist. Nothing is run: containers cannot run here.</summary>
public sealed partial class DeployFilesTests
{
    private static readonly string Deploy = Path.Combine(RepositoryPaths.Root, "deploy");

    private static readonly string[] RoleTargets = ["verifier", "broker", "aggregator", "host", "host-configured"];

    [Fact]
    public void EveryYamlFileParses()
    {
        string[] files = YamlFiles();
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            IReadOnlyList<YamlMappingNode> documents = LoadYaml(file);
            Assert.True(documents.Count > 0, $"{file} holds no YAML document");
        }
    }

    [Fact]
    public void KubernetesManifestsNameTheirKindAndTheHostsRunOnAConfidentialRuntimeWithProbesAndScrapeAnnotations()
    {
        var kinds = new List<string>();
        int hosts = 0;
        foreach (string file in Directory.GetFiles(Path.Combine(Deploy, "k8s"), "*.yaml"))
        {
            foreach (YamlMappingNode document in LoadYaml(file))
            {
                string kind = Scalar(document, "kind") ?? throw new Xunit.Sdk.XunitException($"{file}: a document without kind");
                Assert.NotNull(Scalar(document, "apiVersion"));
                kinds.Add(kind);
                if (kind == "Kustomization")
                {
                    foreach (YamlNode resource in Sequence(document, "resources"))
                    {
                        Assert.True(File.Exists(Path.Combine(Deploy, "k8s", ((YamlScalarNode)resource).Value!)), $"kustomization names {resource}, which does not exist");
                    }

                    continue;
                }

                Assert.NotNull(Scalar(Mapping(document, "metadata")!, "name"));
                if (kind != "Deployment")
                {
                    continue;
                }

                YamlMappingNode template = Mapping(Mapping(document, "spec")!, "template")!;
                YamlMappingNode annotations = Mapping(Mapping(template, "metadata")!, "annotations")
                    ?? throw new Xunit.Sdk.XunitException($"{file}: a Deployment without Prometheus annotations");
                Assert.Equal("true", Scalar(annotations, "prometheus.io/scrape"));
                Assert.Equal("/metrics", Scalar(annotations, "prometheus.io/path"));
                Assert.Matches("^[0-9]+$", Scalar(annotations, "prometheus.io/port"));
                YamlMappingNode pod = Mapping(template, "spec")!;
                foreach (YamlMappingNode container in Sequence(pod, "containers").Cast<YamlMappingNode>())
                {
                    Assert.NotNull(Mapping(container, "readinessProbe"));
                    Assert.NotNull(Mapping(container, "livenessProbe"));
                }

                if (Scalar(Mapping(document, "metadata")!, "name")!.StartsWith("host-", StringComparison.Ordinal))
                {
                    hosts++;
                    Assert.Equal("kata-cc", Scalar(pod, "runtimeClassName"));
                }
            }
        }

        Assert.Equal(3, hosts);
        foreach (string kind in new[] { "RuntimeClass", "StatefulSet", "Service", "ConfigMap", "Deployment", "PersistentVolumeClaim" })
        {
            Assert.Contains(kind, kinds);
        }
    }

    [Fact]
    public void TheComposeFileBuildsTargetsTheDockerfileHasAndChecksEveryServiceHealth()
    {
        YamlMappingNode compose = Assert.Single(LoadYaml(Path.Combine(Deploy, "compose", "compose.yaml")));
        HashSet<string> targets = [.. DockerfileStages().Select(s => s.Name)];
        YamlMappingNode services = Mapping(compose, "services")!;
        foreach (string required in new[] { "verifier", "broker", "postgres", "host-eu-west", "host-us-east", "host-ap-south", "aggregator" })
        {
            YamlMappingNode service = Mapping(services, required) ?? throw new Xunit.Sdk.XunitException($"compose has no service {required}");
            Assert.NotNull(Mapping(service, "healthcheck"));
        }

        foreach ((YamlNode key, YamlNode value) in services.Children)
        {
            if (Mapping((YamlMappingNode)value, "build") is { } build)
            {
                string target = Scalar(build, "target") ?? throw new Xunit.Sdk.XunitException($"service {key} builds no target");
                Assert.Contains(target, targets);
            }
        }
    }

    [Fact]
    public void EveryRoleTargetRunsTheEnclaveCommand()
    {
        IReadOnlyList<DockerStage> stages = DockerfileStages();
        foreach (string role in RoleTargets)
        {
            DockerStage stage = stages.SingleOrDefault(s => s.Name == role) ?? throw new Xunit.Sdk.XunitException($"the Dockerfile has no target {role}");
            Assert.Equal(["enclave"], EffectiveEntrypoint(stages, stage));
            Assert.NotNull(stage.Cmd);
        }
    }

    [Fact]
    public void EveryEnclaveCommandLineInTheDeployFilesParses()
    {
        List<CommandLine> lines = CommandLines();
        Assert.True(lines.Count >= 25, $"only {lines.Count} command lines found: {string.Join("; ", lines.Select(l => l.Where))}");
        foreach (string role in new[] { "serve verifier", "serve broker", "serve host", "serve aggregator", "health" })
        {
            Assert.Contains(lines, l => string.Join(' ', l.Arguments).StartsWith(role, StringComparison.Ordinal));
        }

        var problems = lines.Select(l => (l, Problem: ParseProblem(l.Arguments))).Where(p => p.Problem is not null)
            .Select(p => $"{p.l.Where}: enclave {string.Join(' ', p.l.Arguments)}\n    {p.Problem}").ToList();
        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void TheCheckRefusesAnUnknownOptionAMissingRequiredOneAndAStrayArgument()
    {
        Assert.Null(ParseProblem(["health", "--address", "https://localhost:7200"]));
        Assert.NotNull(ParseProblem(["health", "--address", "https://localhost:7200", "--no-such-option", "x"]));
        Assert.NotNull(ParseProblem(["serve", "host", "--region", "eu-west"]));
        Assert.NotNull(ParseProblem(["serve", "verifier", "--data-dir", "/d", "stray"]));
        Assert.NotNull(ParseProblem(["serve", "nothing"]));

        // The extraction itself: a continued shell line, quoting and expansions.
        CommandLine line = Assert.Single(ShellCommandLines("t.sh",
            "x=$(enclave key register --broker https://broker:7200 --name \"fmnist-$region\" \\\n  --policy \"$trial/p.json\" $extra)\n"));
        Assert.Equal(["key", "register", "--broker", "https://broker:7200", "--name", "fmnist-1", "--policy", "1/p.json"], line.Arguments);
    }

    /// <summary>Why the real `enclave` parser refuses <paramref name="arguments"/>, or null.</summary>
    private static string? ParseProblem(IReadOnlyList<string> arguments)
    {
        RootCommand root = CliRoot.Create();
        ParseResult result = root.Parse(arguments.ToArray());
        if (result.Errors.Count > 0)
        {
            return string.Join("; ", result.Errors.Select(e => e.Message));
        }

        if (result.UnmatchedTokens.Count > 0)
        {
            return "unmatched: " + string.Join(' ', result.UnmatchedTokens);
        }

        return result.CommandResult.Command.Action is null && result.Action is null ? $"'{result.CommandResult.Command.Name}' does nothing by itself" : null;
    }

    private sealed record CommandLine(string Where, IReadOnlyList<string> Arguments);

    private static List<CommandLine> CommandLines()
    {
        var lines = new List<CommandLine>();

        // Dockerfile: every CMD of a stage whose entrypoint is the enclave command.
        IReadOnlyList<DockerStage> stages = DockerfileStages();
        foreach (DockerStage stage in stages)
        {
            if (stage.Cmd is { } cmd && EffectiveEntrypoint(stages, stage) is ["enclave"])
            {
                lines.Add(new CommandLine($"Dockerfile target {stage.Name} CMD", cmd));
            }

            foreach (string run in stage.Runs)
            {
                lines.AddRange(ShellCommandLines($"Dockerfile target {stage.Name} RUN", run));
            }
        }

        // Compose: a service's entrypoint (the image's, enclave, unless it names one) and command; health checks.
        YamlMappingNode services = Mapping(Assert.Single(LoadYaml(Path.Combine(Deploy, "compose", "compose.yaml"))), "services")!;
        foreach ((YamlNode key, YamlNode value) in services.Children)
        {
            var service = (YamlMappingNode)value;
            bool ours = Scalar(service, "image")?.StartsWith("enclave/", StringComparison.Ordinal) == true;
            List<string>? entrypoint = Strings(service, "entrypoint");
            List<string>? command = Strings(service, "command");
            if (ours && entrypoint is null && command is not null)
            {
                lines.Add(new CommandLine($"compose service {key} command", command.Select(Interpolate).ToList()));
            }
            else if (entrypoint is ["enclave", .. var rest])
            {
                lines.Add(new CommandLine($"compose service {key} entrypoint", rest.Concat(command ?? []).Select(Interpolate).ToList()));
            }

            if (Mapping(service, "healthcheck") is { } health && Strings(health, "test") is ["CMD", "enclave", .. var probe])
            {
                lines.Add(new CommandLine($"compose service {key} healthcheck", probe.Select(Interpolate).ToList()));
            }
        }

        // Kubernetes: the args of every container of an enclave image that keeps the image's entrypoint, and every
        // exec probe that runs the enclave command.
        foreach (string file in Directory.GetFiles(Path.Combine(Deploy, "k8s"), "*.yaml"))
        {
            foreach (YamlMappingNode document in LoadYaml(file))
            {
                foreach (YamlMappingNode container in Containers(document))
                {
                    string name = $"{Path.GetFileName(file)} {Scalar(Mapping(document, "metadata")!, "name")}/{Scalar(container, "name")}";
                    if (Scalar(container, "image")?.StartsWith("enclave/", StringComparison.Ordinal) == true && Strings(container, "command") is null)
                    {
                        lines.Add(new CommandLine($"{name} args", Strings(container, "args") ?? []));
                    }
                    else if (Strings(container, "command") is ["enclave", .. var rest])
                    {
                        lines.Add(new CommandLine($"{name} command", rest.Concat(Strings(container, "args") ?? []).ToList()));
                    }

                    foreach (string probe in new[] { "startupProbe", "readinessProbe", "livenessProbe" })
                    {
                        if (Mapping(container, probe) is { } p && Mapping(p, "exec") is { } exec && Strings(exec, "command") is ["enclave", .. var check])
                        {
                            lines.Add(new CommandLine($"{name} {probe}", check));
                        }
                    }
                }
            }
        }

        foreach (string script in Directory.GetFiles(Deploy, "*.sh", SearchOption.AllDirectories))
        {
            lines.AddRange(ShellCommandLines(Path.GetRelativePath(Deploy, script), File.ReadAllText(script)));
        }

        return lines;
    }

    /// <summary>The `enclave ...` commands of a shell text: continued lines joined, comments dropped, the command
    /// taken up to the end of its pipeline stage; an expansion becomes <see cref="Expanded"/>, a bare one (which may expand to
    /// nothing, such as an optional flag) is left out.</summary>
    private static IEnumerable<CommandLine> ShellCommandLines(string where, string text)
    {
        string joined = text.Replace("\\\r\n", " ", StringComparison.Ordinal).Replace("\\\n", " ", StringComparison.Ordinal);
        int number = 0;
        foreach (string raw in joined.Split('\n'))
        {
            number++;
            string line = raw.TrimStart();
            if (line.StartsWith('#'))
            {
                continue;
            }

            foreach (string segment in Segments(line))
            {
                Match start = EnclaveInShell().Match(segment);
                if (start.Success)
                {
                    yield return new CommandLine($"{where} line {number}", ShellWords(segment[start.Length..]));
                }
            }
        }
    }

    /// <summary>The simple commands of a shell line: split at ;, &amp;&amp;, || and | outside quotes.</summary>
    private static IEnumerable<string> Segments(string line)
    {
        var segment = new StringBuilder();
        char quote = '\0';
        foreach (char c in line)
        {
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
            }
            else if (c is '"' or '\'')
            {
                quote = c;
            }
            else if (c is ';' or '&' or '|')
            {
                yield return segment.ToString().Trim();
                segment.Clear();
                continue;
            }

            segment.Append(c);
        }

        yield return segment.ToString().Trim();
    }

    private static List<string> ShellWords(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false, onlyExpansion = true;
        int i = 0;

        void End()
        {
            if (inWord && !onlyExpansion)
            {
                words.Add(word.ToString());
            }

            word.Clear();
            inWord = false;
            onlyExpansion = true;
        }

        while (i < text.Length)
        {
            char c = text[i];
            if (c is ' ' or '\t')
            {
                End();
                i++;
            }
            else if (c is ';' or '|' or '&' or '>' or '<' or ')' or '#')
            {
                break;
            }
            else if (c == '\'')
            {
                int close = text.IndexOf('\'', i + 1);
                word.Append(text, i + 1, close - i - 1);
                inWord = true;
                onlyExpansion = false;
                i = close + 1;
            }
            else if (c == '"')
            {
                int j = i + 1;
                while (text[j] != '"')
                {
                    if (text[j] == '$')
                    {
                        j = SkipExpansion(text, j);
                        word.Append(Expanded);
                    }
                    else
                    {
                        word.Append(text[j]);
                        j++;
                    }
                }

                inWord = true;
                onlyExpansion = false;
                i = j + 1;
            }
            else if (c == '$')
            {
                i = SkipExpansion(text, i);
                word.Append(Expanded);
                inWord = true;
            }
            else
            {
                word.Append(c);
                inWord = true;
                onlyExpansion = false;
                i++;
            }
        }

        End();
        return words;
    }

    /// <summary>What a shell expansion stands for in a checked command line: a value any option accepts (a number
    /// is also a name, a path segment and a count).</summary>
    private const string Expanded = "1";

    /// <summary>The index after the expansion at <paramref name="i"/>: $NAME, ${...} or $(...).</summary>
    private static int SkipExpansion(string text, int i)
    {
        if (i + 1 < text.Length && text[i + 1] is '{' or '(')
        {
            char open = text[i + 1], close = open == '{' ? '}' : ')';
            int depth = 0;
            for (int j = i + 1; j < text.Length; j++)
            {
                if (text[j] == open)
                {
                    depth++;
                }
                else if (text[j] == close && --depth == 0)
                {
                    return j + 1;
                }
            }

            return text.Length;
        }

        int k = i + 1;
        while (k < text.Length && (char.IsLetterOrDigit(text[k]) || text[k] == '_'))
        {
            k++;
        }

        return k;
    }

    /// <summary>A compose value with its ${VAR:-default} and ${VAR} interpolated as compose would with the
    /// variables unset (the default, or X).</summary>
    private static string Interpolate(string value) =>
        ComposeVariable().Replace(value, m => m.Groups["default"].Success ? m.Groups["default"].Value : "X");

    private sealed record DockerStage(string Name, string? Parent, List<string>? Entrypoint, List<string>? Cmd, List<string> Runs);

    private static List<string>? EffectiveEntrypoint(IReadOnlyList<DockerStage> stages, DockerStage stage)
    {
        for (DockerStage? s = stage; s is not null; s = stages.FirstOrDefault(p => p.Name == s.Parent))
        {
            if (s.Entrypoint is not null)
            {
                return s.Entrypoint;
            }
        }

        return null;
    }

    private static IReadOnlyList<DockerStage> DockerfileStages()
    {
        string text = File.ReadAllText(Path.Combine(Deploy, "docker", "Dockerfile"));
        var instructions = new List<string>();
        var current = new StringBuilder();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (current.Length == 0 && (line.TrimStart().StartsWith('#') || line.Trim().Length == 0))
            {
                continue;
            }

            if (line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current.Append(line[..^1]).Append(' ');
                continue;
            }

            current.Append(line);
            instructions.Add(current.ToString().Trim());
            current.Clear();
        }

        var stages = new List<DockerStage>();
        DockerStage? stage = null;
        foreach (string instruction in instructions)
        {
            int space = instruction.IndexOf(' ');
            string verb = instruction[..space].ToUpperInvariant(), rest = instruction[(space + 1)..].Trim();
            switch (verb)
            {
                case "FROM":
                    string[] parts = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    Assert.True(parts.Length == 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase), $"every stage is named: FROM {rest}");
                    stage = new DockerStage(parts[2], parts[0], null, null, []);
                    stages.Add(stage);
                    break;
                case "ENTRYPOINT":
                case "CMD":
                    Assert.NotNull(stage);
                    List<string> array = JsonSerializer.Deserialize<List<string>>(rest)
                        ?? throw new Xunit.Sdk.XunitException($"{verb} {rest} is not a JSON array (exec form)");
                    int index = stages.IndexOf(stage);
                    stage = verb == "CMD" ? stage with { Cmd = array } : stage with { Entrypoint = array };
                    stages[index] = stage;
                    break;
                case "RUN":
                    stage?.Runs.Add(rest);
                    break;
            }
        }

        return stages;
    }

    private static string[] YamlFiles() =>
        [.. Directory.GetFiles(Deploy, "*.yaml", SearchOption.AllDirectories), .. Directory.GetFiles(Deploy, "*.yml", SearchOption.AllDirectories)];

    private static IReadOnlyList<YamlMappingNode> LoadYaml(string file)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(File.ReadAllText(file)));
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw new Xunit.Sdk.XunitException($"{file} is not valid YAML: {ex.Message}");
        }

        return stream.Documents.Select(d => d.RootNode as YamlMappingNode ?? throw new Xunit.Sdk.XunitException($"{file}: a document that is not a mapping")).ToList();
    }

    private static IEnumerable<YamlMappingNode> Containers(YamlMappingNode document)
    {
        YamlMappingNode? pod = Mapping(document, "spec") is { } spec && Mapping(spec, "template") is { } template ? Mapping(template, "spec") : null;
        if (pod is null)
        {
            return [];
        }

        return Sequence(pod, "containers").Concat(Sequence(pod, "initContainers")).Cast<YamlMappingNode>();
    }

    private static YamlMappingNode? Mapping(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) ? value as YamlMappingNode : null;

    private static string? Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) ? (value as YamlScalarNode)?.Value : null;

    private static IEnumerable<YamlNode> Sequence(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value) && value is YamlSequenceNode sequence ? sequence.Children : [];

    private static List<string>? Strings(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out YamlNode? value)
            ? value is YamlSequenceNode sequence
                ? sequence.Children.Select(c => ((YamlScalarNode)c).Value ?? string.Empty).ToList()
                : throw new Xunit.Sdk.XunitException($"'{key}' is not a list (exec form) at {value.Start}")
            : null;

    [GeneratedRegex(@"^(?:[A-Za-z_][A-Za-z0-9_]*=\$\()?enclave\s+")]
    private static partial Regex EnclaveInShell();

    [GeneratedRegex(@"\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?<default>[^}]*))?\}")]
    private static partial Regex ComposeVariable();
}
