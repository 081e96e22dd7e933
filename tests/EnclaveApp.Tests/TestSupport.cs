using Enclave.Testing;
using Enclave.Training;

namespace Enclave.EnclaveApp.Tests;

/// <summary>Fashion-MNIST samples and models for the enclave runtime tests.</summary>
internal static class TestSupport
{
    /// <summary>The first <paramref name="count"/> examples of a Fashion-MNIST split as an example set.</summary>
    public static ExampleSet LoadFashionMnist(string prefix, int count, int skip = 0)
    {
        (byte[] labels, byte[] pixels) = FashionMnistSample.Read(prefix, count, skip);
        return ExampleSet.Create(labels, pixels, 28, 28);
    }

    /// <summary>The 784-hidden-10 MLP's initial model for a seed, as the coordinator makes it.</summary>
    public static float[] InitialModel(int hidden, int seed) => ModelSpec.Mlp(hidden).InitialModel((ulong)seed);
}
