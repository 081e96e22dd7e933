using Enclave.Aggregator.Data;

namespace Enclave.Aggregator.Tests;

public sealed class FashionMnistTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("enclave-fmnist-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void LoadsTheTrainingSplit()
    {
        (byte[] pixels, byte[] labels, int count) = FashionMnist.LoadTrain(FashionMnist.DefaultDirectory);

        Assert.Equal(60_000, count);
        Assert.Equal(60_000 * 784, pixels.Length);
        Assert.Equal(60_000, labels.Length);
    }

    [Fact]
    public void LoadsTheTestSplit()
    {
        (byte[] pixels, byte[] labels, int count) = FashionMnist.LoadTest(FashionMnist.DefaultDirectory);

        Assert.Equal(10_000, count);
        Assert.Equal(10_000 * 784, pixels.Length);
        Assert.Equal(10_000, labels.Length);
    }

    [Fact]
    public void LoadsPlainFilesToo()
    {
        File.WriteAllBytes(Path.Combine(_folder, "t10k-images-idx3-ubyte"), IdxReaderTests.Images(2, 28, 28, new byte[2 * 784]));
        File.WriteAllBytes(Path.Combine(_folder, "t10k-labels-idx1-ubyte"), IdxReaderTests.Labels(2, [3, 4]));

        (byte[] pixels, byte[] labels, int count) = FashionMnist.LoadTest(_folder);

        Assert.Equal(2, count);
        Assert.Equal(2 * 784, pixels.Length);
        Assert.Equal(new byte[] { 3, 4 }, labels);
    }

    [Fact]
    public void RejectsImagesAndLabelsThatDisagree()
    {
        File.WriteAllBytes(Path.Combine(_folder, "t10k-images-idx3-ubyte"), IdxReaderTests.Images(2, 28, 28, new byte[2 * 784]));
        File.WriteAllBytes(Path.Combine(_folder, "t10k-labels-idx1-ubyte"), IdxReaderTests.Labels(3, [3, 4, 5]));

        Assert.Throws<IdxFormatException>(() => FashionMnist.LoadTest(_folder));
    }

    [Fact]
    public void RejectsImagesOfAnotherSize()
    {
        File.WriteAllBytes(Path.Combine(_folder, "t10k-images-idx3-ubyte"), IdxReaderTests.Images(1, 32, 32, new byte[1024]));
        File.WriteAllBytes(Path.Combine(_folder, "t10k-labels-idx1-ubyte"), IdxReaderTests.Labels(1, [3]));

        Assert.Throws<IdxFormatException>(() => FashionMnist.LoadTest(_folder));
    }

    [Fact]
    public void RejectsLabelsAboveNine()
    {
        File.WriteAllBytes(Path.Combine(_folder, "t10k-images-idx3-ubyte"), IdxReaderTests.Images(2, 28, 28, new byte[2 * 784]));
        File.WriteAllBytes(Path.Combine(_folder, "t10k-labels-idx1-ubyte"), IdxReaderTests.Labels(2, [3, 10]));

        Assert.Throws<IdxFormatException>(() => FashionMnist.LoadTest(_folder));
    }

    [Fact]
    public void AMissingDirectoryIsReported()
    {
        Assert.Throws<FileNotFoundException>(() => FashionMnist.LoadTrain(Path.Combine(_folder, "absent")));
    }
}
