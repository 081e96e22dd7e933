using System.Data.Common;

namespace Enclave.KeyBroker.Storage;

/// <summary>What differs between the relational stores: opening a connection, the schema, taking the
/// exclusive write lock. Every statement is shared (named parameters written <c>@name</c>, which
/// both providers accept).</summary>
internal abstract class StoreDialect
{
    /// <summary>Opens a connection ready for use (pragmas or session settings applied).</summary>
    public abstract DbConnection Open();

    /// <summary>True when several statements can be sent as one command in one round trip, which is worth
    /// it for a server database and not for an embedded one.</summary>
    public virtual bool BatchesStatements => false;

    /// <summary>Opens a connection for reads only (committed state). By default the same as <see cref="Open"/>.</summary>
    public virtual DbConnection OpenReader() => Open();

    /// <summary>Creates the schema if absent; runs inside a write transaction from <see cref="BeginWrite"/>.</summary>
    public abstract void CreateSchema(DbConnection connection, DbTransaction transaction);

    /// <summary>Begins a transaction that holds the store's single writer lock until it ends, so writers
    /// of every process on the same store are serialised.</summary>
    public abstract DbTransaction BeginWrite(DbConnection connection);

    /// <summary>As <see cref="BeginWrite"/>, but on a database that batches statements the writer lock may be left to
    /// <paramref name="lockStatement"/>, which the caller must send before any other statement of the transaction, in
    /// the same command as the first of them (it returns one result set); null when the lock is already held.</summary>
    public virtual DbTransaction BeginWriteDeferringLock(DbConnection connection, out string? lockStatement)
    {
        lockStatement = null;
        return BeginWrite(connection);
    }

    /// <summary>Releases pooled connections, if the provider pools them.</summary>
    public abstract void ClearPool();

    /// <summary>Runs one statement on <paramref name="connection"/>.</summary>
    public static int Execute(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using DbCommand command = Command(connection, transaction, sql, parameters);
        return command.ExecuteNonQuery();
    }

    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
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
