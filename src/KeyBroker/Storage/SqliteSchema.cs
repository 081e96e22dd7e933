// SQLite schema of the key broker (one database file, WAL journal). Times are Unix milliseconds.
namespace Enclave.KeyBroker.Storage;

internal static class SqliteSchema
{
    public const int Version = 1;

    public const string Create = """
        CREATE TABLE IF NOT EXISTS schema_info (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            version INTEGER NOT NULL
        );
        INSERT OR IGNORE INTO schema_info (id, version) VALUES (1, 1);

        -- Nonces already used (SHA-256 of the nonce), kept until a margin after their expiry.
        CREATE TABLE IF NOT EXISTS consumed_nonces (
            nonce_hash BLOB PRIMARY KEY,
            expires_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS consumed_nonces_by_expiry ON consumed_nonces (expires_at_ms);

        CREATE TABLE IF NOT EXISTS owner_requests (
            request_id TEXT PRIMARY KEY,
            expires_at_ms INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS owner_requests_by_expiry ON owner_requests (expires_at_ms);

        -- Node enrolments recorded (their jti), with each one's platform and seq: never purged, so a replayed
        -- or older enrolment is refused however late it comes.
        CREATE TABLE IF NOT EXISTS node_enrollments (
            enrollment_id TEXT PRIMARY KEY,
            platform_id TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            UNIQUE (platform_id, sequence)
        ) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS keys (
            name TEXT NOT NULL,
            version INTEGER NOT NULL CHECK (version >= 1),
            owner_thumbprint TEXT NOT NULL,
            wrapped_key BLOB NOT NULL,
            policy_json TEXT NOT NULL,
            enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
            created_at_ms INTEGER NOT NULL,
            PRIMARY KEY (name, version)
        ) WITHOUT ROWID;

        CREATE TABLE IF NOT EXISTS audit_entries (
            seq INTEGER PRIMARY KEY,
            time_ms INTEGER NOT NULL,
            kind TEXT NOT NULL,
            body TEXT NOT NULL,
            prev_hash BLOB NOT NULL,
            entry_hash BLOB NOT NULL
        );

        CREATE TABLE IF NOT EXISTS audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            size INTEGER NOT NULL,
            head_hash BLOB NOT NULL,
            time_ms INTEGER NOT NULL,
            signature TEXT NOT NULL
        );
        """;
}
