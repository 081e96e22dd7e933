using System.Security.Cryptography;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

public sealed class MasterKeyTests
{
    [Fact]
    public void File_master_key_is_refused_outside_simulated_mode()
    {
        using var directory = new TempDirectory();

        Assert.Throws<InvalidOperationException>(() => new FileMasterKey(directory.Combine("master.key"), simulatedMode: false));
        Assert.False(File.Exists(directory.Combine("master.key")));
    }

    [Fact]
    public void Key_file_is_created_owner_only_and_reused()
    {
        using var directory = new TempDirectory();
        string path = directory.Combine("master.key");
        byte[] dataKey = RandomNumberGenerator.GetBytes(32);
        byte[] aad = "name|1"u8.ToArray();

        byte[] wrapped;
        using (var key = new FileMasterKey(path, simulatedMode: true))
        {
            wrapped = key.Wrap(dataKey, aad);
        }

        Assert.Equal(32, new FileInfo(path).Length);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        using var reopened = new FileMasterKey(path, simulatedMode: true);
        byte[] output = new byte[32];
        Assert.True(reopened.TryUnwrap(wrapped, aad, output));
        Assert.Equal(dataKey, output);
    }

    [Fact]
    public void Unwrap_with_other_associated_data_or_altered_bytes_fails_and_zeroes()
    {
        using var directory = new TempDirectory();
        using var key = new FileMasterKey(directory.Combine("master.key"), simulatedMode: true);
        byte[] wrapped = key.Wrap(RandomNumberGenerator.GetBytes(32), "a"u8);
        byte[] output = Enumerable.Repeat((byte)0xAA, 32).ToArray();

        Assert.False(key.TryUnwrap(wrapped, "b"u8, output));
        Assert.All(output, b => Assert.Equal(0, b));

        wrapped[20] ^= 1;
        output.AsSpan().Fill(0xAA);
        Assert.False(key.TryUnwrap(wrapped, "a"u8, output));
        Assert.All(output, b => Assert.Equal(0, b));
        Assert.False(key.TryUnwrap(wrapped.AsSpan(1), "a"u8, output));
    }

    [Fact]
    public void Key_file_readable_by_others_is_refused()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        using var directory = new TempDirectory();
        string path = directory.Combine("master.key");
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(32));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        Assert.Throws<InvalidOperationException>(() => new FileMasterKey(path, simulatedMode: true));
    }

    [Fact]
    public void Key_file_of_the_wrong_size_is_refused()
    {
        using var directory = new TempDirectory();
        string path = directory.Combine("master.key");
        File.WriteAllBytes(path, new byte[16]);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        Assert.Throws<InvalidDataException>(() => new FileMasterKey(path, simulatedMode: true));
    }

    [Fact]
    public void Broker_server_refuses_the_file_master_key_outside_simulated_mode()
    {
        using var directory = new TempDirectory();
        var options = new KeyBrokerOptions { DataDirectory = directory.Path, TrustedIssuers = ["https://verifier.test"], SimulatedMode = false };

        MasterKeyException error = Assert.Throws<MasterKeyException>(() => Transport.BrokerServer.OpenMasterKey(options));

        Assert.Equal(MasterKeyError.NotAllowed, error.Error);
        Assert.Contains("PKCS#11", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(directory.Combine(FileMasterKey.DefaultFileName)));
    }

    [Fact]
    public async Task File_master_key_is_safe_for_concurrent_releases()
    {
        using var directory = new TempDirectory();
        using var key = new FileMasterKey(directory.Combine("master.key"), simulatedMode: true);
        byte[] dataKey = RandomNumberGenerator.GetBytes(32);
        byte[] aad = "name|1"u8.ToArray();
        byte[] wrapped = key.Wrap(dataKey, aad);

        bool[] results = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() =>
        {
            bool all = true;
            for (int i = 0; i < 50; i++)
            {
                byte[] output = new byte[32];
                all &= key.TryUnwrap(wrapped, aad, output) && output.AsSpan().SequenceEqual(dataKey)
                    && key.TryUnwrap(key.Wrap(dataKey, aad), aad, output);
            }

            return all;
        })));

        Assert.All(results, Assert.True);
    }
}
