// The key broker's tables, the same for SQLite and PostgreSQL but for the names of two types (and SQLite's
// WITHOUT ROWID, which keeps tables with a key of their own in one B-tree). Times are Unix milliseconds; the
// enabled flag is 0 or 1.
namespace Enclave.KeyBroker.Storage;

internal static class Schema
{
    public const int Version = 1;

    public static readonly string Sqlite = Create(int64: "INTEGER", bytes: "BLOB", withoutRowId: " WITHOUT ROWID");

    public static readonly string Postgres = Create(int64: "bigint", bytes: "bytea", withoutRowId: "");

    private static string Create(string int64, string bytes, string withoutRowId) => $"""
        CREATE TABLE IF NOT EXISTS schema_info (
            id integer PRIMARY KEY CHECK (id = 1),
            version integer NOT NULL
        );
        INSERT INTO schema_info (id, version) VALUES (1, {Version}) ON CONFLICT (id) DO NOTHING;

        -- Nonces already used (SHA-256 of the nonce), kept until a margin after their expiry.
        CREATE TABLE IF NOT EXISTS consumed_nonces (
            nonce_hash {bytes} PRIMARY KEY,
            expires_at_ms {int64} NOT NULL
        ){withoutRowId};
        CREATE INDEX IF NOT EXISTS consumed_nonces_by_expiry ON consumed_nonces (expires_at_ms);

        CREATE TABLE IF NOT EXISTS owner_requests (
            request_id text PRIMARY KEY,
            expires_at_ms {int64} NOT NULL
        ){withoutRowId};
        CREATE INDEX IF NOT EXISTS owner_requests_by_expiry ON owner_requests (expires_at_ms);

        -- Node enrolments recorded (their jti), with each one's platform and seq: never purged, so a replayed
        -- or older enrolment is refused however late it comes.
        CREATE TABLE IF NOT EXISTS node_enrollments (
            enrollment_id text PRIMARY KEY,
            platform_id text NOT NULL,
            sequence {int64} NOT NULL,
            UNIQUE (platform_id, sequence)
        ){withoutRowId};

        CREATE TABLE IF NOT EXISTS keys (
            name text NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            owner_thumbprint text NOT NULL,
            wrapped_key {bytes} NOT NULL,
            policy_json text NOT NULL,
            enabled integer NOT NULL CHECK (enabled IN (0, 1)),
            created_at_ms {int64} NOT NULL,
            PRIMARY KEY (name, version)
        ){withoutRowId};

        -- Per key id (all its versions): the RDP its grants spent at each order of the accountant, float64 little-endian.
        CREATE TABLE IF NOT EXISTS privacy_budgets (key_name text PRIMARY KEY, rdp {bytes} NOT NULL){withoutRowId};

        -- On SQLite "INTEGER PRIMARY KEY" makes seq the rowid.
        CREATE TABLE IF NOT EXISTS audit_entries (
            seq {int64} PRIMARY KEY CHECK (seq >= 1),
            time_ms {int64} NOT NULL,
            kind text NOT NULL,
            body text NOT NULL,
            prev_hash {bytes} NOT NULL,
            entry_hash {bytes} NOT NULL
        );

        CREATE TABLE IF NOT EXISTS audit_head (
            id integer PRIMARY KEY CHECK (id = 1),
            size {int64} NOT NULL,
            head_hash {bytes} NOT NULL,
            time_ms {int64} NOT NULL,
            signature text NOT NULL
        );
        """;
}
