// PostgreSQL schema of the key broker: the same tables and columns as the SQLite schema. Times are Unix
// milliseconds; the enabled flag is 0 or 1.
namespace Enclave.KeyBroker.Storage;

internal static class PostgresSchema
{
    public const int Version = 1;

    public const string Create = """
        CREATE TABLE IF NOT EXISTS schema_info (
            id integer PRIMARY KEY CHECK (id = 1),
            version integer NOT NULL
        );
        INSERT INTO schema_info (id, version) VALUES (1, 1) ON CONFLICT (id) DO NOTHING;

        -- Nonces already used (SHA-256 of the nonce), kept until a margin after their expiry.
        CREATE TABLE IF NOT EXISTS consumed_nonces (
            nonce_hash bytea PRIMARY KEY,
            expires_at_ms bigint NOT NULL
        );
        CREATE INDEX IF NOT EXISTS consumed_nonces_by_expiry ON consumed_nonces (expires_at_ms);

        CREATE TABLE IF NOT EXISTS owner_requests (
            request_id text PRIMARY KEY,
            expires_at_ms bigint NOT NULL
        );
        CREATE INDEX IF NOT EXISTS owner_requests_by_expiry ON owner_requests (expires_at_ms);

        -- Node enrolments recorded (their jti), with each one's platform and seq: never purged, so a replayed
        -- or older enrolment is refused however late it comes.
        CREATE TABLE IF NOT EXISTS node_enrollments (
            enrollment_id text PRIMARY KEY,
            platform_id text NOT NULL,
            sequence bigint NOT NULL,
            UNIQUE (platform_id, sequence)
        );

        CREATE TABLE IF NOT EXISTS keys (
            name text NOT NULL,
            version integer NOT NULL CHECK (version >= 1),
            owner_thumbprint text NOT NULL,
            wrapped_key bytea NOT NULL,
            policy_json text NOT NULL,
            enabled integer NOT NULL CHECK (enabled IN (0, 1)),
            created_at_ms bigint NOT NULL,
            PRIMARY KEY (name, version)
        );

        CREATE TABLE IF NOT EXISTS audit_entries (
            seq bigint PRIMARY KEY CHECK (seq >= 1),
            time_ms bigint NOT NULL,
            kind text NOT NULL,
            body text NOT NULL,
            prev_hash bytea NOT NULL,
            entry_hash bytea NOT NULL
        );

        CREATE TABLE IF NOT EXISTS audit_head (
            id integer PRIMARY KEY CHECK (id = 1),
            size bigint NOT NULL,
            head_hash bytea NOT NULL,
            time_ms bigint NOT NULL,
            signature text NOT NULL
        );
        """;
}
