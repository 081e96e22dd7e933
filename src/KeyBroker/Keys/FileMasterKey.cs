// Master key in a local file: 32 random bytes, AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce
// per wrap. Wrapped form: version byte 0x01 | nonce (12) | ciphertext (data key length) | tag (16).
// Only for simulated mode: a file next to the database protects nothing against whoever can read both.
using System.Security.Cryptography;

namespace Enclave.KeyBroker.Keys;

public sealed class FileMasterKey : IMasterKey, IDisposable
{
    public const string DefaultFileName = "master.key";
    public const int KeySize = 32;

    private const byte FormatVersion = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int Overhead = 1 + NonceSize + TagSize;

    private readonly AesGcm _aes;

    /// <param name="path">The key file; created (0600) with a fresh random key if absent.</param>
    /// <param name="simulatedMode">Must be true: a file master key is refused outside simulated mode.</param>
    /// <exception cref="InvalidOperationException">Not in simulated mode, or the file is readable by
    /// group or others.</exception>
    /// <exception cref="InvalidDataException">The file does not hold exactly 32 bytes.</exception>
    public FileMasterKey(string path, bool simulatedMode)
        : this(path, RequireSimulated(simulatedMode) ? SecretFile.ReadOrCreate(path, () => RandomNumberGenerator.GetBytes(KeySize)) : [])
    {
    }

    private FileMasterKey(string path, byte[] key)
    {
        try
        {
            if (key.Length != KeySize)
            {
                throw new InvalidDataException($"The master key file {path} must hold exactly {KeySize} bytes.");
            }

            _aes = new AesGcm(key, TagSize);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary>Loads a configured master key file (32 raw bytes, 0600), which must exist: simulated brokers on one
    /// database given the same file unwrap each other's keys.</summary>
    /// <exception cref="InvalidOperationException">Not in simulated mode, or the file is readable by group or others.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file does not hold exactly 32 bytes.</exception>
    public static FileMasterKey Load(string path, bool simulatedMode) =>
        new(path, RequireSimulated(simulatedMode) ? SecretFile.ReadExisting(path) : []);

    private static bool RequireSimulated(bool simulatedMode) => simulatedMode
        ? true
        : throw new InvalidOperationException("A file master key is allowed only in simulated mode; configure a hardware-backed master key.");

    public byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> associatedData)
    {
        if (dataKey.IsEmpty)
        {
            throw new ArgumentException("The data key is empty.", nameof(dataKey));
        }

        byte[] wrapped = new byte[Overhead + dataKey.Length];
        wrapped[0] = FormatVersion;
        Span<byte> nonce = wrapped.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        lock (_aes)
        {
            // AesGcm keeps one cipher context: concurrent releases must not share it at the same time.
            _aes.Encrypt(
                nonce,
                dataKey,
                wrapped.AsSpan(1 + NonceSize, dataKey.Length),
                wrapped.AsSpan(1 + NonceSize + dataKey.Length, TagSize),
                associatedData);
        }

        return wrapped;
    }

    public bool TryUnwrap(ReadOnlySpan<byte> wrappedKey, ReadOnlySpan<byte> associatedData, Span<byte> destination)
    {
        if (wrappedKey.Length != Overhead + destination.Length || wrappedKey[0] != FormatVersion)
        {
            CryptographicOperations.ZeroMemory(destination);
            return false;
        }

        try
        {
            lock (_aes)
            {
                _aes.Decrypt(
                    wrappedKey.Slice(1, NonceSize),
                    wrappedKey.Slice(1 + NonceSize, destination.Length),
                    wrappedKey.Slice(1 + NonceSize + destination.Length, TagSize),
                    destination,
                    associatedData);
            }

            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            CryptographicOperations.ZeroMemory(destination);
            return false;
        }
    }

    public void Dispose() => _aes.Dispose();
}
