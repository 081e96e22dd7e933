using Microsoft.Data.Sqlite;

namespace Enclave.KeyBroker.Storage;

/// <summary>The embedded store: one SQLite database in WAL mode, a pooled connection per operation,
/// writers serialised by <c>BEGIN IMMEDIATE</c>, <c>synchronous=FULL</c> so a committed grant survives
/// a crash.</summary>
public sealed class SqliteKeyBrokerStore : IKeyBrokerStore
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
        if (builder.DefaultTimeout < 30)
        {
            builder.DefaultTimeout = 30;
        }

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

    public void Initialize()
    {
        using SqliteConnection connection = Open();
        Execute(connection, null, "PRAGMA journal_mode=WAL;");
        using SqliteTransaction transaction = connection.BeginTransaction();
        Execute(connection, transaction, SqliteSchema.Create);
        transaction.Commit();
    }

    public IKeyBrokerTransaction BeginWrite()
    {
        SqliteConnection connection = Open();
        try
        {
            return new SqliteWriteTransaction(connection, connection.BeginTransaction(deferred: false));
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public KeyVersionRecord? GetLatestKey(string name)
    {
        using SqliteConnection connection = Open();
        return QueryLatestKey(connection, null, name);
    }

    public IEnumerable<AuditEntryRecord> ReadAuditEntries(long fromSequence = 1)
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT seq, time_ms, kind, body, prev_hash, entry_hash FROM audit_entries WHERE seq >= $from ORDER BY seq";
        command.Parameters.AddWithValue("$from", fromSequence);
        using SqliteDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return ReadAuditEntry(reader);
        }
    }

    public AuditEntryRecord? GetAuditEntry(long sequence)
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT seq, time_ms, kind, body, prev_hash, entry_hash FROM audit_entries WHERE seq = $seq";
        command.Parameters.AddWithValue("$seq", sequence);
        using SqliteDataReader reader = command.ExecuteReader();
        return reader.Read() ? ReadAuditEntry(reader) : null;
    }

    public AuditHeadRecord? GetAuditHead()
    {
        using SqliteConnection connection = Open();
        return QueryAuditHead(connection, null);
    }

    public void Dispose()
    {
        // Pooled connections keep the database file open; release them so the directory can be removed.
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    internal static KeyVersionRecord? QueryLatestKey(SqliteConnection connection, SqliteTransaction? transaction, string name)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT name, version, owner_thumbprint, wrapped_key, policy_json, enabled, created_at_ms
            FROM keys WHERE name = $name ORDER BY version DESC LIMIT 1
            """;
        command.Parameters.AddWithValue("$name", name);
        using SqliteDataReader reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new KeyVersionRecord(
            reader.GetString(0),
            reader.GetInt32(1),
            reader.GetString(2),
            (byte[])reader.GetValue(3),
            reader.GetString(4),
            reader.GetInt64(5) != 0,
            FromMs(reader.GetInt64(6)));
    }

    internal static AuditHeadRecord? QueryAuditHead(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT size, head_hash, time_ms, signature FROM audit_head WHERE id = 1";
        using SqliteDataReader reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        return new AuditHeadRecord(reader.GetInt64(0), (byte[])reader.GetValue(1), FromMs(reader.GetInt64(2)), reader.GetString(3));
    }

    internal static AuditEntryRecord ReadAuditEntry(SqliteDataReader reader) => new(
        reader.GetInt64(0),
        FromMs(reader.GetInt64(1)),
        reader.GetString(2),
        reader.GetString(3),
        (byte[])reader.GetValue(4),
        (byte[])reader.GetValue(5));

    internal static long ToMs(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    internal static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    internal static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            Execute(connection, null, "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}
