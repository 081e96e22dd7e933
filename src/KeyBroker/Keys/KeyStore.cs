// Data keys at rest. Each version row holds the data key wrapped by the master key with associated data
//   SHA-256("enclave-keybroker-datakey-v1" | 0x00 | u32 len | name | u32 version | u32 len | owner
//           thumbprint | u8 enabled | u32 len | policy JSON)        (UTF-8, big-endian lengths)
// so that editing the policy, owner or enabled flag of a row in the database, or moving a wrapped key to
// another row, makes the key impossible to unwrap instead of releasable under a weaker policy.
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Enclave.KeyBroker.Storage;

namespace Enclave.KeyBroker.Keys;

public sealed class KeyStore
{
    /// <summary>Data keys are 256-bit.</summary>
    public const int DataKeySize = 32;

    private const string Domain = "enclave-keybroker-datakey-v1";

    private readonly IKeyBrokerStore _store;
    private readonly IMasterKey _masterKey;
    private readonly TimeProvider _time;

    public KeyStore(IKeyBrokerStore store, IMasterKey masterKey, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(masterKey);
        ArgumentNullException.ThrowIfNull(time);
        _store = store;
        _masterKey = masterKey;
        _time = time;
    }

    /// <summary>The latest version of the key, or null when the id is unknown or not a valid <see cref="KeyId"/>.</summary>
    public KeyVersionRecord? GetLatest(string name) => KeyId.IsValid(name) ? _store.GetLatestKey(name) : null;

    /// <summary>Unwraps the record's data key into <paramref name="dataKey"/> (32 bytes); false (and zeros)
    /// when the record does not authenticate.</summary>
    public bool TryUnwrap(KeyVersionRecord record, Span<byte> dataKey)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (dataKey.Length != DataKeySize)
        {
            throw new ArgumentException($"The destination must be {DataKeySize} bytes.", nameof(dataKey));
        }

        return _masterKey.TryUnwrap(record.WrappedKey, AssociatedData(record.Name, record.Version, record.OwnerThumbprint, record.Enabled, record.PolicyJson), dataKey);
    }

    /// <summary>Inserts version <paramref name="version"/> of a key inside <paramref name="transaction"/>.</summary>
    public KeyVersionRecord AddVersion(
        IKeyBrokerTransaction transaction, string name, int version, string ownerThumbprint, ReadOnlySpan<byte> dataKey, string policyJson)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        if (!KeyId.TryParse(name, out string idOwner, out _) || !string.Equals(idOwner, ownerThumbprint, StringComparison.Ordinal))
        {
            throw new ArgumentException("The key id is not valid or names another owner.", nameof(name));
        }

        if (dataKey.Length != DataKeySize)
        {
            throw new ArgumentException($"A data key is {DataKeySize} bytes.", nameof(dataKey));
        }

        byte[] wrapped = _masterKey.Wrap(dataKey, AssociatedData(name, version, ownerThumbprint, true, policyJson));
        var record = new KeyVersionRecord(
            name, version, ownerThumbprint, wrapped, policyJson, true,
            DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds()));
        transaction.InsertKeyVersion(record);
        return record;
    }

    /// <summary>True for the record that marks a deleted key: no wrapped key, no policy, disabled.</summary>
    public static bool IsDeleted(KeyVersionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return record.WrappedKey.Length == 0;
    }

    /// <summary>Deletes a key inside <paramref name="transaction"/>: the latest version's wrapped key is
    /// destroyed and a deleted-marker version is added on top, so no version can be released again and the
    /// name stays pinned to its owner.</summary>
    public KeyVersionRecord Delete(IKeyBrokerTransaction transaction, KeyVersionRecord latest)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(latest);
        transaction.UpdateKeyVersion(latest with { WrappedKey = [], PolicyJson = string.Empty, Enabled = false });
        var marker = new KeyVersionRecord(
            latest.Name, latest.Version + 1, latest.OwnerThumbprint, [], string.Empty, false,
            DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds()));
        transaction.InsertKeyVersion(marker);
        return marker;
    }

    /// <summary>Replaces the policy and enabled flag of a version, re-wrapping its data key to the new
    /// record; null when the stored record does not authenticate.</summary>
    public KeyVersionRecord? Replace(IKeyBrokerTransaction transaction, KeyVersionRecord current, string policyJson, bool enabled)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(current);
        byte[] dataKey = new byte[DataKeySize];
        try
        {
            if (!TryUnwrap(current, dataKey))
            {
                return null;
            }

            byte[] wrapped = _masterKey.Wrap(dataKey, AssociatedData(current.Name, current.Version, current.OwnerThumbprint, enabled, policyJson));
            KeyVersionRecord updated = current with { WrappedKey = wrapped, PolicyJson = policyJson, Enabled = enabled };
            transaction.UpdateKeyVersion(updated);
            return updated;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    internal static byte[] AssociatedData(string name, int version, string owner, bool enabled, string policyJson)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.ASCII.GetBytes(Domain));
        hash.AppendData([0]);
        AppendString(hash, name);
        Span<byte> number = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(number, (uint)version);
        hash.AppendData(number);
        AppendString(hash, owner);
        hash.AppendData([enabled ? (byte)1 : (byte)0]);
        AppendString(hash, policyJson);
        return hash.GetHashAndReset();
    }

    private static void AppendString(IncrementalHash hash, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)bytes.Length);
        hash.AppendData(length);
        hash.AppendData(bytes);
    }
}
