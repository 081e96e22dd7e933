using System.Data.Common;

namespace Enclave.KeyBroker.Storage;

/// <summary>The store over a <see cref="StoreDialect"/>: reads on pooled connections (they see only
/// committed, durable state), writes through one <see cref="GroupCommitWriter"/>.</summary>
internal sealed class RelationalStore : IKeyBrokerStore
{
    public const string AuditColumns = "seq, time_ms, kind, body, prev_hash, entry_hash";

    private readonly StoreDialect _dialect;
    private readonly GroupCommitWriter _writer;

    public RelationalStore(StoreDialect dialect, int maxBatch = GroupCommitWriter.DefaultMaxBatch)
    {
        _dialect = dialect;
        _writer = new GroupCommitWriter(dialect, maxBatch);
    }

    public void Initialize()
    {
        using DbConnection connection = _dialect.Open();
        using DbTransaction transaction = _dialect.BeginWrite(connection);
        _dialect.CreateSchema(connection, transaction);
        transaction.Commit();
    }

    public IKeyBrokerTransaction BeginWrite() => _writer.Begin();

    public Task<IKeyBrokerTransaction> BeginWriteAsync(CancellationToken cancellationToken = default) => _writer.BeginAsync(cancellationToken);

    public Task<T> WriteAsync<T>(Func<IKeyBrokerTransaction, T> work, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(work, cancellationToken);

    public Task<T> WriteAsync<T>(Func<IKeyBrokerTransaction, T> work, byte[] nonceHash, CancellationToken cancellationToken = default) =>
        _writer.RunAsync(work, cancellationToken, nonceHash);

    public KeyVersionRecord? GetLatestKey(string name)
    {
        using DbConnection connection = _dialect.OpenReader();
        return QueryLatestKey(connection, null, name);
    }

    public IEnumerable<AuditEntryRecord> ReadAuditEntries(long fromSequence = 1)
    {
        using DbConnection connection = _dialect.OpenReader();
        using DbCommand command = StoreDialect.Command(connection, null,
            $"SELECT {AuditColumns} FROM audit_entries WHERE seq >= @from ORDER BY seq", ("@from", fromSequence));
        using DbDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return ReadAuditEntry(reader);
        }
    }

    public AuditEntryRecord? GetAuditEntry(long sequence)
    {
        using DbConnection connection = _dialect.OpenReader();
        using DbCommand command = StoreDialect.Command(connection, null,
            $"SELECT {AuditColumns} FROM audit_entries WHERE seq = @seq", ("@seq", sequence));
        using DbDataReader reader = command.ExecuteReader();
        return reader.Read() ? ReadAuditEntry(reader) : null;
    }

    public AuditHeadRecord? GetAuditHead()
    {
        using DbConnection connection = _dialect.OpenReader();
        return QueryAuditHead(connection, null);
    }

    public void Dispose()
    {
        _writer.Dispose();
        _dialect.ClearPool();
    }

    internal const string LatestKeySql = """
        SELECT name, version, owner_thumbprint, wrapped_key, policy_json, enabled, created_at_ms
        FROM keys WHERE name = @name ORDER BY version DESC LIMIT 1
        """;

    internal const string AuditHeadSql = "SELECT size, head_hash, time_ms, signature FROM audit_head WHERE id = 1";

    internal static KeyVersionRecord? QueryLatestKey(DbConnection connection, DbTransaction? transaction, string name)
    {
        using DbCommand command = StoreDialect.Command(connection, transaction, LatestKeySql, ("@name", name));
        using DbDataReader reader = command.ExecuteReader();
        return reader.Read() ? ReadKey(reader) : null;
    }

    internal static KeyVersionRecord ReadKey(DbDataReader reader) =>
        new KeyVersionRecord(
            reader.GetString(0),
            checked((int)Int(reader, 1)),
            reader.GetString(2),
            (byte[])reader.GetValue(3),
            reader.GetString(4),
            Int(reader, 5) != 0,
            FromMs(Int(reader, 6)));

    internal static AuditHeadRecord? QueryAuditHead(DbConnection connection, DbTransaction? transaction)
    {
        using DbCommand command = StoreDialect.Command(connection, transaction, AuditHeadSql);
        using DbDataReader reader = command.ExecuteReader();
        return reader.Read() ? ReadHead(reader) : null;
    }

    internal static AuditHeadRecord ReadHead(DbDataReader reader) =>
        new(Int(reader, 0), (byte[])reader.GetValue(1), FromMs(Int(reader, 2)), reader.GetString(3));

    internal static AuditEntryRecord ReadAuditEntry(DbDataReader reader) => new(
        Int(reader, 0),
        FromMs(Int(reader, 1)),
        reader.GetString(2),
        reader.GetString(3),
        (byte[])reader.GetValue(4),
        (byte[])reader.GetValue(5));

    internal static long ToMs(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    internal static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static long Int(DbDataReader reader, int ordinal) =>
        Convert.ToInt64(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
}
