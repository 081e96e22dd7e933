namespace Enclave.KeyBroker.Keys;

/// <summary>Wraps data keys for storage. The associated data binds a wrapped key to its record, so a
/// wrapped key moved to another record, or a record whose policy was edited in the database, no longer
/// unwraps.</summary>
public interface IMasterKey
{
    /// <summary>Encrypts and authenticates <paramref name="dataKey"/>.</summary>
    byte[] Wrap(ReadOnlySpan<byte> dataKey, ReadOnlySpan<byte> associatedData);

    /// <summary>Authenticates and decrypts into <paramref name="destination"/> (which must be exactly the
    /// data key's length); on failure the destination is zeroed and false returned.</summary>
    bool TryUnwrap(ReadOnlySpan<byte> wrappedKey, ReadOnlySpan<byte> associatedData, Span<byte> destination);
}
