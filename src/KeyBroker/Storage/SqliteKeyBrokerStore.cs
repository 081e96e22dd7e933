using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Enclave.KeyBroker.Storage;

/// <summary>The embedded store: one SQLite database in WAL mode with <c>synchronous=FULL</c>, so a
/// committed grant survives a crash or power loss before the key leaves. Writers are serialised by
/// <c>BEGIN IMMEDIATE</c> (across processes too) and group-committed (see <see cref="GroupCommitWriter"/>).</summary>
public sealed class SqliteKeyBrokerStore : IKeyBrokerStore
{
    public const string DefaultFileName = "keybroker.db";

    private readonly RelationalStore _store;

    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string.</param>
    public SqliteKeyBrokerStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new SqliteConnectionStringBuilder(connectionString)
        {
            Pooling = true,
            ForeignKeys = true,
        };
        if (builder.DefaultTimeout < 30)
        {
            builder.DefaultTimeout = 30;
        }

        _store = new RelationalStore(new Dialect(builder.ToString()));
    }

    /// <summary>The connection string for <see cref="DefaultFileName"/> inside <paramref name="dataDirectory"/>.</summary>
    public static string ConnectionStringFor(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        return new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(dataDirectory, DefaultFileName),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
        }.ToString();
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

    public void Dispose() => _store.Dispose();

    private sealed class Dialect(string connectionString) : StoreDialect
    {
        public override DbConnection Open() =>
            OpenWith("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;");

        // WAL mode is a property of the database file, set by Initialize and the writer before any read; a
        // reader (a pooled connection, opened on every read) only needs its busy timeout.
        public override DbConnection OpenReader() => OpenWith("PRAGMA busy_timeout=30000;");

        private SqliteConnection OpenWith(string pragmas)
        {
            var connection = new SqliteConnection(connectionString);
            try
            {
                connection.Open();
                Execute(connection, null, pragmas);
                return connection;
            }
            catch
            {
                connection.Dispose();
                throw;
            }
        }

        public override DbTransaction BeginWrite(DbConnection connection) =>
            ((SqliteConnection)connection).BeginTransaction(deferred: false);

        public override void CreateSchema(DbConnection connection, DbTransaction transaction) =>
            Execute(connection, transaction, SqliteSchema.Create);

        public override void ClearPool()
        {
            // Pooled connections keep the database file open; release them so the directory can be removed.
            using var connection = new SqliteConnection(connectionString);
            SqliteConnection.ClearPool(connection);
        }
    }
}
