// `enclave image configure`: turns an enclave build into a configured enclave image by writing the trust anchors
// the enclave pins (verifier issuer and keys, coordinator keys, mode) into it as enclave.config.json, then
// measuring the whole folder. The measurement printed is the value data owners' release policies allow: it covers
// every file of the image, the configuration included, so a host that edits any of them gets no key.
using System.CommandLine;
using System.Text.Json.Nodes;
using Enclave.Cli.Demo;
using Enclave.Crypto;

namespace Enclave.Cli.Commands;

internal static class ImageCommands
{
    public static Command Create()
    {
        var build = new Option<string>("--build") { Description = "enclave build to configure (default: the enclave-app/ folder beside this program)" };
        var output = new Option<string>("--out") { Required = true, Description = "folder to create for the configured image (must not exist or be empty)" };
        var issuer = new Option<string>("--verifier-issuer") { Required = true, Description = "issuer URL the verifier's tokens name" };
        var verifierKeys = new Option<string[]>("--verifier-keys") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "public JWKS or JWK file of the verifier's signing keys (repeat; list the next key too before a rotation)" };
        var coordinatorKeys = new Option<string[]>("--coordinator-key") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "public JWK file of the coordinator whose round specifications the enclave obeys (repeat)" };
        var simulated = new Option<bool>("--simulated") { Description = "an image for the simulated platform (local development); without it the image refuses simulated evidence and simulated peers" };
        var link = new Option<bool>("--link") { Description = "link the build's third-party files instead of copying them (the measurement still covers their content)" };
        Option<string?> json = RoundCommands.JsonOption();
        var configure = new Command("configure", "Write the enclave's pinned trust anchors into a copy of an enclave build and print its measurement.")
        {
            build, output, issuer, verifierKeys, coordinatorKeys, simulated, link, json,
        };
        configure.SetAction(parse => CliErrors.RunAsync(() =>
        {
            var configuration = Configuration(
                parse.GetValue(simulated) ? EnclaveMode.Simulated : EnclaveMode.Hardware,
                CliErrors.ParseUri(parse.GetValue(issuer)!, "--verifier-issuer").ToString(),
                KeyFiles.ReadPublicKeySets(parse.GetValue(verifierKeys)!, "--verifier-keys"),
                KeyFiles.ReadPublicKeySets(parse.GetValue(coordinatorKeys)!, "--coordinator-key"));
            string image = Path.GetFullPath(parse.GetValue(output)!);
            string measurement = Configure(Path.GetFullPath(parse.GetValue(build) ?? DemoPaths.DefaultEnclaveDirectory), image, configuration, parse.GetValue(link));
            if (parse.GetResult(json) is not null)
            {
                RoundCommands.WriteJson(parse.GetValue(json), new JsonObject { ["image"] = image, ["measurement"] = measurement, ["mode"] = configuration.Mode.ToString().ToLowerInvariant() });
            }
            else
            {
                Console.WriteLine(measurement);
            }

            return Task.FromResult(0);
        }));
        return new Command("image", "Configure enclave images (the trust anchors inside the measurement).") { configure };
    }

    public static EnclaveConfiguration Configuration(EnclaveMode mode, string issuer, JwkSet verifierKeys, JwkSet coordinatorKeys)
    {
        try
        {
            return new EnclaveConfiguration(mode, issuer, verifierKeys, coordinatorKeys);
        }
        catch (ArgumentException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    /// <summary>Creates <paramref name="image"/> from <paramref name="build"/> with <paramref name="configuration"/>
    /// and returns its measurement (lower-case hex).</summary>
    public static string Configure(string build, string image, EnclaveConfiguration configuration, bool link)
    {
        if (!File.Exists(Path.Combine(build, CodeManifest.EntryAssembly)))
        {
            throw new CliException($"no enclave build at {build} (it holds no {CodeManifest.EntryAssembly})");
        }

        if (Directory.Exists(image) && Directory.EnumerateFileSystemEntries(image).Any())
        {
            throw new CliException($"--out {image} exists and is not empty; configure into a new folder");
        }

        if (Path.GetFullPath(image).StartsWith(Path.GetFullPath(build) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new CliException("--out must not be inside the build it configures");
        }

        try
        {
            Directory.CreateDirectory(image);
            foreach (string file in Directory.EnumerateFiles(build, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(build, file);
                if (relative == EnclaveConfiguration.FileName)
                {
                    continue;
                }

                string target = Path.Combine(image, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);

                // The enclave's own files are always copied: the runtime resolves the entry assembly's folder through
                // links, and the configuration must sit beside the assembly that reads it.
                if (link && !Path.GetFileName(file).StartsWith("Enclave.", StringComparison.Ordinal))
                {
                    File.CreateSymbolicLink(target, Path.GetFullPath(file));
                }
                else
                {
                    File.Copy(file, target);
                }
            }

            string config = Path.Combine(image, EnclaveConfiguration.FileName);
            File.WriteAllBytes(config + ".tmp", configuration.ToUtf8());
            File.Move(config + ".tmp", config);
            return EnclaveMeasurement.Compute(image);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(image);
            throw new CliException($"cannot write the image to {image}: {ex.Message}");
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
