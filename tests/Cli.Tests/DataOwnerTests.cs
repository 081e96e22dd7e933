using System.Buffers.Binary;
using Enclave.Cli.Commands;
using Enclave.Cli.DataOwner;
using Enclave.Cli.Demo;
using Enclave.Crypto;
using Enclave.KeyBroker.Policy;
using Enclave.Testing;

namespace Enclave.Cli.Tests;

public sealed class DataOwnerTests
{
    [Fact]
    public void AProtectedShardDecryptsToDisjointLabelledExamplesBoundToItsRegion()
    {
        using var directory = new TempDirectory();
        byte[] key = DatasetProtector.NewDataKey();
        ProtectedDataset first = DatasetProtector.Protect(RepositoryPaths.FashionMnist, "fmnist-a", "eu-west", 0, 3, 50, directory.Combine("a.encds"), key);
        Assert.Equal(50, first.Examples);

        using FileStream stream = File.OpenRead(first.Path);
        byte[] plaintext = EncryptedDataset.DecryptAll(stream, key, "fmnist-a", "eu-west");
        Assert.Equal("EXAMPLE1"u8.ToArray(), plaintext[..8]);
        Assert.Equal(50u, BinaryPrimitives.ReadUInt32LittleEndian(plaintext.AsSpan(8)));
        Assert.Equal(ExampleSetWriter.HeaderLength + (50 * (1 + (28 * 28))), plaintext.Length);

        stream.Position = 0;
        var wrongRegion = Assert.Throws<EncryptedDatasetException>(() => EncryptedDataset.DecryptAll(stream, key, "fmnist-a", "us-east"));
        Assert.Equal(DatasetError.WrongRegion, wrongRegion.Code);
    }

    [Fact]
    public void ShardsOutsideTheRangeAreRefused()
    {
        using var directory = new TempDirectory();
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetProtector.Protect(RepositoryPaths.FashionMnist, "d", "eu-west", 3, 3, 10, directory.Combine("x"), new byte[32]));
    }

    [Fact]
    public void TheStandardReleasePolicyIsValidKeyVaultGrammarWithRegionAndMeasurement()
    {
        string measurement = new('a', 64);
        string json = KeyCommands.BuildPolicy("http://127.0.0.1:5000", [measurement], ["eu-west"], allowSimulated: true);
        ReleasePolicy policy = ReleasePolicy.Parse(json);
        Assert.NotNull(policy);
        Assert.Contains(measurement, json, StringComparison.Ordinal);
        Assert.Contains("eu-west", json, StringComparison.Ordinal);
        Assert.Contains("simulated", json, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("corrupt-chunk:eu-west", DemoFaultKind.CorruptChunk)]
    [InlineData("truncate:us-east", DemoFaultKind.Truncate)]
    [InlineData("missing-data:ap-south", DemoFaultKind.MissingData)]
    public void FaultsParse(string text, DemoFaultKind kind)
    {
        Assert.Equal(kind, DemoFault.Parse(text).Kind);
    }

    [Theory]
    [InlineData("corrupt-chunk")]
    [InlineData("corrupt-chunk:")]
    [InlineData("explode:eu-west")]
    public void BadFaultsAreRefused(string text)
    {
        Assert.Throws<CliException>(() => DemoFault.Parse(text));
    }

    [Fact]
    public void ACorruptChunkFaultBreaksExactlyTheLastChunksAuthentication()
    {
        using var directory = new TempDirectory();
        byte[] key = DatasetProtector.NewDataKey();
        ProtectedDataset dataset = DatasetProtector.Protect(RepositoryPaths.FashionMnist, "fmnist-a", "eu-west", 0, 1, 2000, directory.Combine("a.encds"), key);
        DemoFault.Parse("corrupt-chunk:eu-west").Apply(dataset.Path);
        using FileStream stream = File.OpenRead(dataset.Path);
        var ex = Assert.Throws<EncryptedDatasetException>(() => EncryptedDataset.DecryptAll(stream, key, "fmnist-a", "eu-west"));
        Assert.Equal(DatasetError.ChunkAuthenticationFailed, ex.Code);
    }

    [Fact]
    public void TheMeasurementOfAMissingBuildIsAClearError()
    {
        var ex = Assert.Throws<CliException>(() => EnclaveMeasurement.Compute("/nonexistent/enclave-app"));
        Assert.Contains("no enclave build", ex.Message, StringComparison.Ordinal);
    }
}
