using Enclave.Cli.Commands;

namespace Enclave.Cli.Tests;

public sealed class AttestCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("attest-cli-").FullName;

    [Fact]
    public void A_missing_evidence_file_is_unusable_input()
    {
        var ex = Assert.Throws<CliException>(() => Run(new VerifyRequest(Path.Combine(_folder, "none.bin"), [], null, null, null, null)));
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("2025-13-01T00:00:00Z")]
    [InlineData("")]
    public void An_instant_that_is_not_rfc3339_is_unusable_input(string at)
    {
        string evidence = Write("e.bin", [1, 2, 3]);
        var ex = Assert.Throws<CliException>(() => Run(new VerifyRequest(evidence, [], null, at, null, null)));
        Assert.Contains("--at", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_invalid_policy_is_unusable_input_naming_the_file()
    {
        string evidence = Write("e.bin", [1, 2, 3]);
        string policy = Write("p.json", "{\"allowDebug\": \"yes\"}"u8.ToArray());
        var ex = Assert.Throws<CliException>(() => Run(new VerifyRequest(evidence, [], null, null, policy, null)));
        Assert.Contains("p.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_kind_is_unusable_input()
    {
        string evidence = Write("e.bin", [1, 2, 3]);
        var ex = Assert.Throws<CliException>(() => Run(new VerifyRequest(evidence, [], "tpm", null, null, null)));
        Assert.Contains("--kind", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bytes_of_no_known_kind_are_unusable_input()
    {
        string evidence = Write("e.bin", new byte[64]);
        var ex = Assert.Throws<CliException>(() => Run(new VerifyRequest(evidence, [], null, null, null, null)));
        Assert.Contains("not evidence of any known kind", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_evidence_is_refused_before_it_is_read()
    {
        string path = Path.Combine(_folder, "big.bin");
        using (FileStream stream = File.Create(path))
        {
            stream.SetLength(AttestCommands.MaxEvidenceBytes + 1L);
        }

        var ex = Assert.Throws<CliException>(() => Run(new VerifyRequest(path, [], null, null, null, null)));
        Assert.Contains("limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_endorsement_path_is_unusable_input()
    {
        string evidence = Write("e.bin", [1, 2, 3]);
        var ex = Assert.Throws<CliException>(() => Run(new VerifyRequest(evidence, [Path.Combine(_folder, "nope")], null, null, null, null)));
        Assert.Contains("nope", ex.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static AttestResult Run(VerifyRequest request) => AttestCommands.Run(request, TimeProvider.System);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
