namespace Enclave.KeyBroker.Storage;

/// <summary>The store could not make a write durable; none of the write was stored. The inner exception
/// is the provider's error (SQLite or PostgreSQL).</summary>
public sealed class KeyBrokerStoreException : Exception
{
    public KeyBrokerStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
