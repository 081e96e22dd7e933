using System.Data.Common;

namespace Enclave.KeyBroker.Storage;

/// <summary>What the SQLite and PostgreSQL stores share: reads on pooled connections (committed, durable state only) and
/// writes serialised twice, by an in-process lock (so a waiting writer holds no connection) and by the database's writer
/// lock each subclass takes when a transaction begins (so writers of every process on one database are serialised too).
/// <see cref="BeginWrite"/> is one physical transaction; <see cref="WriteAsync{T}"/> group-commits (<see cref="GroupCommit"/>).</summary>
public abstract class RelationalStore : IKeyBrokerStore
{
    internal const string AuditColumns = "seq, time_ms, kind, body, prev_hash, entry_hash";

    internal const string AuditHeadSql = "SELECT size, head_hash, time_ms, signature FROM audit_head WHERE id = 1";

    private const string LatestKeySql = """
        SELECT name, version, owner_thumbprint, wrapped_key, policy_json, enabled, created_at_ms
        FROM keys WHERE name = @name ORDER BY version DESC LIMIT 1
        """;

    private readonly GroupCommit _groupCommit;
    private long _lastPurgeMs = long.MinValue;
    private long _purgedUpToMs = long.MinValue;

    private protected RelationalStore()
    {
        _groupCommit = new GroupCommit(this);
    }

    /// <summary>Held by whichever physical write transaction of this process is open.</summary>
    internal SemaphoreSlim WriterLock { get; } = new(1, 1);

    /// <summary>Opens a connection for writes (pragmas or session settings applied).</summary>
    private protected abstract DbConnection OpenWriter();

    /// <summary>Opens a connection for reads of committed state.</summary>
    private protected virtual DbConnection OpenReader() => OpenWriter();

    /// <summary>Begins a transaction on <paramref name="connection"/> that holds the database's writer lock until it ends.</summary>
    private protected abstract DbTransaction BeginLocked(DbConnection connection);

    private protected abstract string SchemaSql { get; }

    public void Initialize()
    {
        using DbConnection connection = OpenWriter();
        using DbTransaction transaction = BeginLocked(connection);
        Execute(connection, transaction, SchemaSql);
        transaction.Commit();
    }

    public IKeyBrokerTransaction BeginWrite()
    {
        WriterLock.Wait();
        return Begin(releasesWriterLock: true);
    }

    public async Task<IKeyBrokerTransaction> BeginWriteAsync(CancellationToken cancellationToken = default)
    {
        await WriterLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        return Begin(releasesWriterLock: true);
    }

    public Task<T> WriteAsync<T>(Func<IKeyBrokerTransaction, T> work, CancellationToken cancellationToken = default) =>
        _groupCommit.Enqueue(work, cancellationToken);

    /// <summary>Begins a physical write transaction; the caller holds <see cref="WriterLock"/>.</summary>
    internal RelationalWriteTransaction Begin(bool releasesWriterLock)
    {
        DbConnection? connection = null;
        try
        {
            connection = OpenWriter();
            return new RelationalWriteTransaction(this, connection, BeginLocked(connection), releasesWriterLock);
        }
        catch
        {
            connection?.Dispose();
            if (releasesWriterLock)
            {
                WriterLock.Release();
            }

            throw;
        }
    }

    /// <summary>Whether a purge of expired rows is due at <paramref name="nowMs"/>: at most one a second, since
    /// purging only reclaims space. Called under the writer lock.</summary>
    internal bool PurgeDue(long nowMs)
    {
        if (_lastPurgeMs != long.MinValue && nowMs >= _lastPurgeMs && nowMs - _lastPurgeMs < 1000)
        {
            return false;
        }

        _lastPurgeMs = nowMs;
        return true;
    }

    /// <summary>The latest expiry up to which this store has deleted consumed nonces; a nonce expiring at or before
    /// it can no longer be checked for reuse. Raised before the delete runs and never lowered.</summary>
    internal long PurgedNoncesUpToMs
    {
        get => Volatile.Read(ref _purgedUpToMs);
        set => _purgedUpToMs = Math.Max(_purgedUpToMs, value);
    }

    public KeyVersionRecord? GetLatestKey(string name)
    {
        using DbConnection connection = OpenReader();
        return QueryLatestKey(connection, null, name);
    }

    public IEnumerable<AuditEntryRecord> ReadAuditEntries(long fromSequence = 1)
    {
        using DbConnection connection = OpenReader();
        using DbCommand command = Command(connection, null,
            $"SELECT {AuditColumns} FROM audit_entries WHERE seq >= @from ORDER BY seq", ("@from", fromSequence));
        using DbDataReader reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return ReadAuditEntry(reader);
        }
    }

    public AuditEntryRecord? GetAuditEntry(long sequence)
    {
        using DbConnection connection = OpenReader();
        using DbCommand command = Command(connection, null, $"SELECT {AuditColumns} FROM audit_entries WHERE seq = @seq", ("@seq", sequence));
        using DbDataReader reader = command.ExecuteReader();
        return reader.Read() ? ReadAuditEntry(reader) : null;
    }

    public AuditHeadRecord? GetAuditHead()
    {
        using DbConnection connection = OpenReader();
        return QueryAuditHead(connection, null);
    }

    public virtual void Dispose()
    {
        _groupCommit.Dispose();
        GC.SuppressFinalize(this);
    }

    internal static KeyVersionRecord? QueryLatestKey(DbConnection connection, DbTransaction? transaction, string name)
    {
        using DbCommand command = Command(connection, transaction, LatestKeySql, ("@name", name));
        using DbDataReader reader = command.ExecuteReader();
        return reader.Read()
            ? new KeyVersionRecord(reader.GetString(0), checked((int)Int(reader, 1)), reader.GetString(2), (byte[])reader.GetValue(3),
                reader.GetString(4), Int(reader, 5) != 0, FromMs(Int(reader, 6)))
            : null;
    }

    internal static AuditHeadRecord? QueryAuditHead(DbConnection connection, DbTransaction? transaction)
    {
        using DbCommand command = Command(connection, transaction, AuditHeadSql);
        using DbDataReader reader = command.ExecuteReader();
        return reader.Read() ? new(Int(reader, 0), (byte[])reader.GetValue(1), FromMs(Int(reader, 2)), reader.GetString(3)) : null;
    }

    internal static AuditEntryRecord ReadAuditEntry(DbDataReader reader) =>
        new(Int(reader, 0), FromMs(Int(reader, 1)), reader.GetString(2), reader.GetString(3), (byte[])reader.GetValue(4), (byte[])reader.GetValue(5));

    internal static long ToMs(DateTimeOffset time) => time.ToUnixTimeMilliseconds();

    internal static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    internal static long Int(DbDataReader reader, int ordinal) =>
        Convert.ToInt64(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Runs one statement; parameters are written <c>@name</c>, which both providers accept.</summary>
    internal static int Execute(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using DbCommand command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    internal static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        DbCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach ((string name, object? value) in parameters)
        {
            DbParameter parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }
}
