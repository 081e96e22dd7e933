using System.Data;
using System.Data.Common;
using Npgsql;

namespace Enclave.KeyBroker.Storage;

/// <summary>The store for deployments that run several broker instances on one database. Every write
/// transaction first takes a transaction-level advisory lock keyed by the schema, so writers of all
/// instances are serialised as with SQLite (the audit sequence has no gaps and a nonce is consumed once);
/// commits are synchronous (<c>synchronous_commit = on</c>) and group-committed (see
/// <see cref="GroupCommitWriter"/>). Tables live in the connection's first search-path schema.</summary>
public sealed class PostgresKeyBrokerStore : IKeyBrokerStore
{
    /// <summary>First key of the writer advisory lock; the second is the hash of the current schema.</summary>
    public const int WriterLockKey = 0x454B4252;

    private readonly RelationalStore _store;
    private readonly NpgsqlDataSource _dataSource;

    /// <param name="connectionString">An Npgsql connection string, e.g. <c>Host=db;Database=enclave;Username=broker;Password=...</c>.</param>
    /// <exception cref="ArgumentException">The connection string does not parse.</exception>
    public PostgresKeyBrokerStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException($"The PostgreSQL connection string does not parse: {e.Message}", nameof(connectionString), e);
        }

        builder.Pooling = true;
        if (builder.MaxPoolSize < 16)
        {
            builder.MaxPoolSize = 16;
        }

        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
        _store = new RelationalStore(new Dialect(_dataSource));
    }

    public void Initialize() => _store.Initialize();

    public IKeyBrokerTransaction BeginWrite() => _store.BeginWrite();

    public Task<IKeyBrokerTransaction> BeginWriteAsync(CancellationToken cancellationToken = default) => _store.BeginWriteAsync(cancellationToken);

    public Task<T> WriteAsync<T>(Func<IKeyBrokerTransaction, T> work, CancellationToken cancellationToken = default) =>
        _store.WriteAsync(work, cancellationToken);

    public Task<T> WriteAsync<T>(Func<IKeyBrokerTransaction, T> work, byte[] nonceHash, CancellationToken cancellationToken = default) =>
        _store.WriteAsync(work, nonceHash, cancellationToken);

    public KeyVersionRecord? GetLatestKey(string name) => _store.GetLatestKey(name);

    public IEnumerable<AuditEntryRecord> ReadAuditEntries(long fromSequence = 1) => _store.ReadAuditEntries(fromSequence);

    public AuditEntryRecord? GetAuditEntry(long sequence) => _store.GetAuditEntry(sequence);

    public AuditHeadRecord? GetAuditHead() => _store.GetAuditHead();

    public void Dispose()
    {
        _store.Dispose();
        _dataSource.Dispose();
    }

    private sealed class Dialect(NpgsqlDataSource dataSource) : StoreDialect
    {
        public override DbConnection Open() => dataSource.OpenConnection();

        public override bool BatchesStatements => true;

        /// <summary>Takes the store's writer lock for the rest of the transaction (one result set, of one row).</summary>
        private static readonly string TakeWriterLockSql =
            FormattableString.Invariant($"SET LOCAL synchronous_commit = on; SELECT pg_advisory_xact_lock({WriterLockKey}, hashtext(current_schema()))");

        public override DbTransaction BeginWrite(DbConnection connection)
        {
            DbTransaction transaction = BeginWriteDeferringLock(connection, out string? lockStatement);
            try
            {
                Execute(connection, transaction, lockStatement!);
                return transaction;
            }
            catch
            {
                transaction.Dispose();
                throw;
            }
        }

        // Npgsql sends BEGIN with the transaction's first command; the lock then travels in that command too.
        public override DbTransaction BeginWriteDeferringLock(DbConnection connection, out string? lockStatement)
        {
            lockStatement = TakeWriterLockSql;
            return connection.BeginTransaction(IsolationLevel.ReadCommitted);
        }

        public override void CreateSchema(DbConnection connection, DbTransaction transaction) =>
            Execute(connection, transaction, PostgresSchema.Create);

        public override void ClearPool()
        {
            // The data source owns its pool and is disposed with the store.
        }
    }
}
