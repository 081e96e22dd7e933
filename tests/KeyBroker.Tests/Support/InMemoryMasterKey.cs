using System.Security.Cryptography;
using Enclave.KeyBroker.Keys;

namespace Enclave.KeyBroker.Tests.Support;

/// <summary>A master key held in memory, standing in for a hardware-backed one in non-simulated tests.</summary>
internal sealed class InMemoryMasterKey : IMasterKey, IDisposable
{
    private readonly AesGcm _aes = new(RandomNumberGenerator.GetBytes(32), 16);

    public byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> associatedData)
    {
        byte[] output = new byte[12 + dataKey.Length + 16];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        lock (_aes)
        {
            _aes.Encrypt(output.AsSpan(0, 12), dataKey, output.AsSpan(12, dataKey.Length), output.AsSpan(12 + dataKey.Length), associatedData);
        }

        return output;
    }

    public bool TryUnwrap(ReadOnlySpan<byte> wrappedKey, ReadOnlySpan<byte> associatedData, Span<byte> destination)
    {
        if (wrappedKey.Length != 28 + destination.Length)
        {
            destination.Clear();
            return false;
        }

        try
        {
            lock (_aes)
            {
                _aes.Decrypt(wrappedKey[..12], wrappedKey.Slice(12, destination.Length), wrappedKey[(12 + destination.Length)..], destination, associatedData);
            }

            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            destination.Clear();
            return false;
        }
    }

    public void Dispose() => _aes.Dispose();
}
