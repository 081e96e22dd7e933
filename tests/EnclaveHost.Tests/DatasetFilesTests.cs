using Enclave.EnclaveHost;
using Enclave.Protocol.Boundary;

namespace Enclave.EnclaveHost.Tests;

public sealed class DatasetFilesTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "enclave-host-" + Guid.NewGuid().ToString("N"));
    private readonly HostOptions _options;

    public DatasetFilesTests()
    {
        Directory.CreateDirectory(_directory);
        _options = new HostOptions
        {
            Region = "eu-west",
            DataDirectory = _directory,
            EnclaveDirectory = _directory,
            PlatformDirectory = _directory,
            VerifierGrpc = new Uri("http://127.0.0.1:1"),
            Broker = new Uri("http://127.0.0.1:3"),
        };
        File.WriteAllBytes(DatasetFiles.PathOf(_options, "fmnist-eu-west"), Enumerable.Range(0, 100).Select(i => (byte)i).ToArray());
    }

    [Fact]
    public async Task RangesAreServedAndClippedAtTheEnd()
    {
        Assert.Equal(new byte[] { 10, 11, 12 }, await Read("fmnist-eu-west", 10, 3));
        Assert.Equal(new byte[] { 98, 99 }, await Read("fmnist-eu-west", 98, 10));
        Assert.Empty(await Read("fmnist-eu-west", 100, 1));
    }

    [Theory]
    [InlineData("fmnist-us-east", 0, 1)]
    [InlineData("../fmnist-eu-west", 0, 1)]
    [InlineData("..", 0, 1)]
    [InlineData("fmnist.eu-west", 0, 1)]
    [InlineData("Fmnist-eu-west", 0, 1)]
    [InlineData("", 0, 1)]
    [InlineData("fmnist-eu-west", -1, 1)]
    [InlineData("fmnist-eu-west", 0, -1)]
    [InlineData("fmnist-eu-west", 0, DatasetFiles.MaxRead + 1)]
    public async Task ReadsOfMissingOrMalformedDatasetsOrOutOfBoundsAreRefused(string dataset, long offset, int length)
    {
        await Assert.ThrowsAsync<IOException>(() => Read(dataset, offset, length));
    }

    [Fact]
    public async Task AMissingDatasetIsReportedAsSuch()
    {
        File.Delete(DatasetFiles.PathOf(_options, "fmnist-eu-west"));
        var ex = await Assert.ThrowsAsync<IOException>(() => Read("fmnist-eu-west", 0, 1));
        Assert.Contains("missing", ex.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private Task<byte[]> Read(string dataset, long offset, int length) =>
        DatasetFiles.ReadAsync(_options, new ReadDataCall { DatasetId = dataset, Offset = offset, Length = length }, CancellationToken.None);
}
