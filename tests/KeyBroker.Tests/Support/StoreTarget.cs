using Enclave.KeyBroker.Storage;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Enclave.KeyBroker.Tests.Support;

/// <summary>A fresh, empty database for one test: a SQLite file in a temporary directory, or a private
/// schema in the PostgreSQL database named by ENCLAVE_TEST_POSTGRES (dropped afterwards). Tests tamper
/// with rows through <see cref="Execute"/> in SQL both accept (parameters written <c>@name</c>).</summary>
internal abstract class StoreTarget : IDisposable
{
    public const string PostgresVariable = "ENCLAVE_TEST_POSTGRES";

    /// <summary>PostgreSQL suites share one server; they run one class at a time, not beside each other.</summary>
    public const string PostgresCollection = "postgres";

    public abstract KeyBrokerStoreKind Kind { get; }

    public abstract string ConnectionString { get; }

    public static StoreTarget Create(KeyBrokerStoreKind kind) => kind switch
    {
        KeyBrokerStoreKind.Sqlite => new SqliteTarget(),
        KeyBrokerStoreKind.Postgres => new PostgresTarget(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>A new store instance on this database (not yet initialised).</summary>
    public IKeyBrokerStore Open() => Kind == KeyBrokerStoreKind.Sqlite
        ? new SqliteKeyBrokerStore(ConnectionString)
        : new PostgresKeyBrokerStore(ConnectionString);

    /// <summary>Runs one statement outside any store, as someone with write access to the database would.</summary>
    public abstract void Execute(string sql, params (string Name, object Value)[] parameters);

    public abstract void Dispose();

    private sealed class SqliteTarget : StoreTarget
    {
        private readonly TempDirectory _directory = new();

        public override KeyBrokerStoreKind Kind => KeyBrokerStoreKind.Sqlite;

        public override string ConnectionString => SqliteKeyBrokerStore.ConnectionStringFor(_directory.Path);

        public override void Execute(string sql, params (string Name, object Value)[] parameters)
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = _directory.Combine(SqliteKeyBrokerStore.DefaultFileName),
                Pooling = false,
            }.ToString());
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = sql;
            foreach ((string name, object value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            command.ExecuteNonQuery();
        }

        public override void Dispose() => _directory.Dispose();
    }

    private sealed class PostgresTarget : StoreTarget
    {
        private readonly string _admin;
        private readonly string _schema = "t_" + Guid.NewGuid().ToString("N");

        public PostgresTarget()
        {
            _admin = Environment.GetEnvironmentVariable(PostgresVariable)
                ?? throw new InvalidOperationException($"{PostgresVariable} is not set.");
            Run(_admin, $"CREATE SCHEMA {_schema}");
            ConnectionString = new NpgsqlConnectionStringBuilder(_admin) { SearchPath = _schema }.ConnectionString;
        }

        public override KeyBrokerStoreKind Kind => KeyBrokerStoreKind.Postgres;

        public override string ConnectionString { get; }

        public override void Execute(string sql, params (string Name, object Value)[] parameters) =>
            Run(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString, sql, parameters);

        public override void Dispose() => Run(_admin, $"DROP SCHEMA IF EXISTS {_schema} CASCADE");

        private static void Run(string connectionString, string sql, params (string Name, object Value)[] parameters)
        {
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
            using NpgsqlCommand command = connection.CreateCommand();
            command.CommandText = sql;
            foreach ((string name, object value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            command.ExecuteNonQuery();
        }
    }
}
