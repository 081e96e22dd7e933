using System.Data;
using System.Data.Common;
using Npgsql;

namespace Enclave.KeyBroker.Storage;

/// <summary>The store for deployments that run several broker instances on one database. Every write transaction
/// first takes a transaction-level advisory lock keyed by the schema, so writers of all instances are serialised as
/// with SQLite (one log: the audit sequence has no gaps, and a nonce is consumed once); commits are synchronous
/// (<c>synchronous_commit = on</c>). Tables live in the connection's first search-path schema.</summary>
public sealed class PostgresKeyBrokerStore : RelationalStore
{
    /// <summary>First key of the writer advisory lock; the second is the hash of the current schema.</summary>
    public const int WriterLockKey = 0x454B4252;

    private static readonly string s_takeWriterLock =
        FormattableString.Invariant($"SET LOCAL synchronous_commit = on; SELECT pg_advisory_xact_lock({WriterLockKey}, hashtext(current_schema()))");

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
        builder.MaxPoolSize = Math.Max(builder.MaxPoolSize, 16);

        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    private protected override string SchemaSql => Schema.Postgres;

    private protected override DbConnection OpenWriter() => _dataSource.OpenConnection();

    private protected override DbTransaction BeginLocked(DbConnection connection)
    {
        DbTransaction transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted);
        try
        {
            Execute(connection, transaction, s_takeWriterLock);
            return transaction;
        }
        catch
        {
            transaction.Dispose();
            throw;
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _dataSource.Dispose();
    }
}
