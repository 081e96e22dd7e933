using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Enclave.KeyBroker.Storage;

/// <summary>The embedded store: one SQLite database in WAL mode with <c>synchronous=FULL</c>, so a committed grant
/// survives a crash or power loss before the key leaves. Writers are serialised by <c>BEGIN IMMEDIATE</c> (across
/// processes too).</summary>
public sealed class SqliteKeyBrokerStore : RelationalStore
{
    public const string DefaultFileName = "keybroker.db";

    private readonly string _connectionString;

    /// <param name="connectionString">A Microsoft.Data.Sqlite connection string.</param>
    public SqliteKeyBrokerStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new SqliteConnectionStringBuilder(connectionString)
        {
            Pooling = true,
            ForeignKeys = true,
        };
        builder.DefaultTimeout = Math.Max(builder.DefaultTimeout, 30);

        _connectionString = builder.ToString();
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

    private protected override string SchemaSql => Schema.Sqlite;

    private protected override DbConnection OpenWriter() =>
        Open("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;");

    // WAL mode is a property of the database file, set by Initialize and every writer before any read; a reader
    // (a pooled connection, opened on every read) only needs its busy timeout.
    private protected override DbConnection OpenReader() => Open("PRAGMA busy_timeout=30000;");

    private protected override DbTransaction BeginLocked(DbConnection connection) =>
        ((SqliteConnection)connection).BeginTransaction(deferred: false);

    public override void Dispose()
    {
        base.Dispose();
        // Pooled connections keep the database file open; release them so the directory can be removed.
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    private SqliteConnection Open(string pragmas)
    {
        var connection = new SqliteConnection(_connectionString);
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
}
