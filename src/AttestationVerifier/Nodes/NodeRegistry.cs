using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;
using Microsoft.Data.Sqlite;

namespace Enclave.AttestationVerifier.Nodes;

/// <summary>
/// Which platform sits in which region, in SQLite. Security teams enrol platforms with signed requests
/// (<see cref="EnrollmentRequest"/>); every accepted enrolment is appended to the <c>enrollments</c> log, whose
/// entries are hash-chained, and <c>nodes</c> holds the current region of each platform.
/// </summary>
public sealed class NodeRegistry : INodeDirectory
{
    private const string ZeroHash = "0000000000000000000000000000000000000000000000000000000000000000";
    private const string Algorithm = "ES256";

    private static ReadOnlySpan<byte> EntryDomain => "enclave/enrollment-log/v1"u8;

    private readonly string _connectionString;
    private readonly IReadOnlyList<Jwk> _enrollmentKeys;
    private readonly TimeProvider _timeProvider;
    private readonly Lock _writeLock = new();

    /// <param name="databasePath">The SQLite file; created with its tables if absent.</param>
    /// <param name="enrollmentKeys">Public EC P-256 JWKs of the security-team keys allowed to enrol platforms.</param>
    /// <exception cref="ArgumentException">A key is not a public EC P-256 JWK.</exception>
    public NodeRegistry(string databasePath, IEnumerable<Jwk> enrollmentKeys, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(databasePath);
        ArgumentNullException.ThrowIfNull(enrollmentKeys);
        Jwk[] keys = [.. enrollmentKeys];
        foreach (Jwk key in keys)
        {
            if (key is null || !string.Equals(key.Kty, "EC", StringComparison.Ordinal) || !string.Equals(key.Crv, "P-256", StringComparison.Ordinal))
            {
                throw new ArgumentException("enrolment keys must be EC P-256 JWKs", nameof(enrollmentKeys));
            }
        }

        _enrollmentKeys = keys;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString();
        CreateSchema();
    }

    /// <summary>Checks and applies a signed enrolment request.</summary>
    public EnrollmentOutcome Enroll(string signedEnrollment)
    {
        ArgumentNullException.ThrowIfNull(signedEnrollment);
        if (signedEnrollment.Length == 0 || signedEnrollment.Length > EnrollmentRequest.MaxLength)
        {
            return EnrollmentOutcome.Failure(EnrollmentError.Malformed, $"an enrolment request is 1..{EnrollmentRequest.MaxLength} characters");
        }

        if (!TryVerifySignature(signedEnrollment, requireMediaType: true, out byte[]? payloadBytes, out string? signerThumbprint, out string signatureError))
        {
            return EnrollmentOutcome.Failure(EnrollmentError.SignatureInvalid, signatureError);
        }

        if (!EnrollmentRequest.TryReadPayload(payloadBytes, out EnrollmentPayload? payload, out EnrollmentError payloadError, out string payloadMessage))
        {
            return EnrollmentOutcome.Failure(payloadError, payloadMessage);
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        // Compared as bounds, not as |now - iat|: that difference overflows for an iat near long.MinValue.
        long nowSeconds = now.ToUnixTimeSeconds();
        long maxAgeSeconds = (long)EnrollmentRequest.MaxAge.TotalSeconds;
        if (payload!.IssuedAt < 0 || payload.IssuedAt < nowSeconds - maxAgeSeconds || payload.IssuedAt > nowSeconds + maxAgeSeconds)
        {
            return EnrollmentOutcome.Failure(EnrollmentError.Stale, $"iat {payload.IssuedAt} is more than {EnrollmentRequest.MaxAge.TotalMinutes} minutes from now ({now.ToUnixTimeSeconds()})");
        }

        lock (_writeLock)
        {
            using SqliteConnection connection = Open();
            using SqliteTransaction transaction = connection.BeginTransaction();
            // Replay protection, durable with the registry: every applied enrolment's jti and seq are kept in
            // enrollment_ids (append-only), in the same transaction as the log entry they admit.
            if (IsIdSeen(connection, transaction, payload.Id!))
            {
                return EnrollmentOutcome.Failure(EnrollmentError.Replayed, $"an enrolment with jti {payload.Id} was already applied");
            }

            long? currentSequence = CurrentPlatformSequence(connection, transaction, payload.PlatformId);
            if (currentSequence is { } latest && payload.Sequence <= latest)
            {
                return EnrollmentOutcome.Failure(
                    EnrollmentError.Superseded,
                    $"platform {payload.PlatformId} is at enrolment seq {latest}; this enrolment's seq {payload.Sequence} is not greater");
            }

            NodeEnrollment? current = Find(connection, transaction, payload.PlatformId);
            string? previousRegion = null;
            if (current is not null && !string.Equals(current.Region, payload.Region, StringComparison.Ordinal))
            {
                if (!payload.Replace)
                {
                    return EnrollmentOutcome.Failure(
                        EnrollmentError.RegionChangeNotConfirmed,
                        $"platform {payload.PlatformId} is enrolled in region {current.Region}; moving it to {payload.Region} requires \"replace\": true");
                }

                previousRegion = current.Region;
            }

            (long lastSequence, string lastHash) = ReadHead(connection, transaction);
            long sequence = lastSequence + 1;
            long enrolledAtMs = now.ToUnixTimeMilliseconds();
            string hash = ComputeEntryHash(sequence, lastHash, payload.PlatformId, payload.Region, previousRegion, enrolledAtMs, signerThumbprint!, signedEnrollment);

            using (SqliteCommand insert = connection.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText =
                    """
                    INSERT INTO enrollments (sequence, platform_id, region, previous_region, enrolled_at_ms, enrolled_by, enrollment_jws, previous_hash, entry_hash)
                    VALUES ($sequence, $platform, $region, $previous, $at, $by, $jws, $previousHash, $hash)
                    """;
                insert.Parameters.AddWithValue("$sequence", sequence);
                insert.Parameters.AddWithValue("$platform", payload.PlatformId);
                insert.Parameters.AddWithValue("$region", payload.Region);
                insert.Parameters.AddWithValue("$previous", (object?)previousRegion ?? DBNull.Value);
                insert.Parameters.AddWithValue("$at", enrolledAtMs);
                insert.Parameters.AddWithValue("$by", signerThumbprint);
                insert.Parameters.AddWithValue("$jws", signedEnrollment);
                insert.Parameters.AddWithValue("$previousHash", lastHash);
                insert.Parameters.AddWithValue("$hash", hash);
                insert.ExecuteNonQuery();
            }

            using (SqliteCommand record = connection.CreateCommand())
            {
                record.Transaction = transaction;
                record.CommandText =
                    """
                    INSERT INTO enrollment_ids (enrollment_id, platform_id, platform_sequence, log_sequence)
                    VALUES ($id, $platform, $platformSequence, $sequence)
                    """;
                record.Parameters.AddWithValue("$id", payload.Id);
                record.Parameters.AddWithValue("$platform", payload.PlatformId);
                record.Parameters.AddWithValue("$platformSequence", payload.Sequence);
                record.Parameters.AddWithValue("$sequence", sequence);
                record.ExecuteNonQuery();
            }

            using (SqliteCommand upsert = connection.CreateCommand())
            {
                upsert.Transaction = transaction;
                upsert.CommandText =
                    """
                    INSERT INTO nodes (platform_id, region, enrolled_at_ms, enrolled_by, enrollment_jws, sequence)
                    VALUES ($platform, $region, $at, $by, $jws, $sequence)
                    ON CONFLICT (platform_id) DO UPDATE SET
                        region = excluded.region, enrolled_at_ms = excluded.enrolled_at_ms, enrolled_by = excluded.enrolled_by,
                        enrollment_jws = excluded.enrollment_jws, sequence = excluded.sequence
                    """;
                upsert.Parameters.AddWithValue("$platform", payload.PlatformId);
                upsert.Parameters.AddWithValue("$region", payload.Region);
                upsert.Parameters.AddWithValue("$at", enrolledAtMs);
                upsert.Parameters.AddWithValue("$by", signerThumbprint);
                upsert.Parameters.AddWithValue("$jws", signedEnrollment);
                upsert.Parameters.AddWithValue("$sequence", sequence);
                upsert.ExecuteNonQuery();
            }

            transaction.Commit();
            NodeEnrollment enrollment = new(payload.PlatformId, payload.Region, DateTimeOffset.FromUnixTimeMilliseconds(enrolledAtMs), signerThumbprint!, signedEnrollment, sequence);
            return EnrollmentOutcome.Success(enrollment, previousRegion);
        }
    }

    public NodeEnrollment? Find(string platformId)
    {
        ArgumentNullException.ThrowIfNull(platformId);
        using SqliteConnection connection = Open();
        return Find(connection, null, platformId);
    }

    /// <summary>Every enrolled platform with its current region, ordered by platform id.</summary>
    public IReadOnlyList<NodeEnrollment> List()
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT platform_id, region, enrolled_at_ms, enrolled_by, enrollment_jws, sequence FROM nodes ORDER BY platform_id";
        using SqliteDataReader reader = command.ExecuteReader();
        List<NodeEnrollment> result = [];
        while (reader.Read())
        {
            result.Add(ReadNode(reader));
        }

        return result;
    }

    /// <summary>Every entry of the enrolment log, oldest first.</summary>
    public IReadOnlyList<EnrollmentLogEntry> ReadLog()
    {
        using SqliteConnection connection = Open();
        return ReadLog(connection);
    }

    /// <summary>
    /// Checks the whole enrolment log: sequence, hash chain, each entry's hash, that each entry matches the
    /// signed request it keeps and that request's signature under the configured security-team keys, and that
    /// the current-state table agrees with the latest entry of each platform.
    /// </summary>
    public EnrollmentLogReport Verify()
    {
        using SqliteConnection connection = Open();
        IReadOnlyList<EnrollmentLogEntry> entries = ReadLog(connection);
        List<EnrollmentLogProblem> problems = [];
        Dictionary<string, EnrollmentLogEntry> latest = new(StringComparer.Ordinal);
        string previousHash = ZeroHash;
        long expectedSequence = 1;
        foreach (EnrollmentLogEntry entry in entries)
        {
            if (entry.Sequence != expectedSequence)
            {
                problems.Add(new(EnrollmentLogProblemKind.SequenceGap, entry.Sequence, $"expected entry {expectedSequence}, found {entry.Sequence}"));
            }

            if (!string.Equals(entry.PreviousHash, previousHash, StringComparison.Ordinal))
            {
                problems.Add(new(EnrollmentLogProblemKind.ChainBroken, entry.Sequence, "the previous hash does not match the entry before"));
            }

            string recomputed = ComputeEntryHash(entry.Sequence, entry.PreviousHash, entry.PlatformId, entry.Region, entry.PreviousRegion, entry.EnrolledAt.ToUnixTimeMilliseconds(), entry.EnrolledBy, entry.SignedEnrollment);
            if (!string.Equals(recomputed, entry.EntryHash, StringComparison.Ordinal))
            {
                problems.Add(new(EnrollmentLogProblemKind.HashMismatch, entry.Sequence, "the entry's fields do not hash to its stored hash"));
            }

            if (!TryVerifySignature(entry.SignedEnrollment, requireMediaType: true, out byte[]? payloadBytes, out string? signer, out string signatureError))
            {
                problems.Add(new(EnrollmentLogProblemKind.SignatureInvalid, entry.Sequence, signatureError));
            }
            else if (!string.Equals(signer, entry.EnrolledBy, StringComparison.Ordinal))
            {
                problems.Add(new(EnrollmentLogProblemKind.SignatureInvalid, entry.Sequence, "the entry names a different signer than the key that signed its request"));
            }
            else if (!EnrollmentRequest.TryReadPayload(payloadBytes, out EnrollmentPayload? payload, out _, out string payloadMessage, requireReplayFields: false)
                || !string.Equals(payload!.PlatformId, entry.PlatformId, StringComparison.Ordinal)
                || !string.Equals(payload.Region, entry.Region, StringComparison.Ordinal))
            {
                problems.Add(new(EnrollmentLogProblemKind.PayloadMismatch, entry.Sequence, "the entry does not match its signed request " + payloadMessage));
            }

            latest[entry.PlatformId] = entry;
            previousHash = entry.EntryHash;
            expectedSequence = entry.Sequence + 1;
        }

        CheckNodes(connection, latest, problems);
        return new EnrollmentLogReport(entries.Count, previousHash, problems);
    }

    private static void CheckNodes(SqliteConnection connection, Dictionary<string, EnrollmentLogEntry> latest, List<EnrollmentLogProblem> problems)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT platform_id, region, enrolled_at_ms, enrolled_by, enrollment_jws, sequence FROM nodes";
        using SqliteDataReader reader = command.ExecuteReader();
        HashSet<string> seen = new(StringComparer.Ordinal);
        while (reader.Read())
        {
            NodeEnrollment node = ReadNode(reader);
            seen.Add(node.PlatformId);
            if (!latest.TryGetValue(node.PlatformId, out EnrollmentLogEntry? entry))
            {
                problems.Add(new(EnrollmentLogProblemKind.NodeMismatch, null, $"platform {node.PlatformId} is enrolled but has no log entry"));
                continue;
            }

            if (node.Sequence != entry.Sequence
                || !string.Equals(node.Region, entry.Region, StringComparison.Ordinal)
                || !string.Equals(node.EnrolledBy, entry.EnrolledBy, StringComparison.Ordinal)
                || !string.Equals(node.SignedEnrollment, entry.SignedEnrollment, StringComparison.Ordinal)
                || node.EnrolledAt != entry.EnrolledAt)
            {
                problems.Add(new(EnrollmentLogProblemKind.NodeMismatch, entry.Sequence, $"platform {node.PlatformId}'s current enrolment differs from its latest log entry"));
            }
        }

        foreach (string platformId in latest.Keys)
        {
            if (!seen.Contains(platformId))
            {
                problems.Add(new(EnrollmentLogProblemKind.NodeMismatch, latest[platformId].Sequence, $"platform {platformId} has log entries but is not enrolled"));
            }
        }
    }

    private bool TryVerifySignature(string compact, bool requireMediaType, out byte[]? payload, out string? signerThumbprint, out string error)
    {
        payload = null;
        signerThumbprint = null;
        string? resolved = null;
        JwsVerified verified;
        try
        {
            verified = Jws.Verify(compact, kid => Resolve(kid, out resolved), [Algorithm]);
        }
        catch (JoseException ex)
        {
            error = $"the enrolment request does not verify with a configured security-team key ({ex.Code}): {ex.Message}";
            return false;
        }

        if (resolved is null)
        {
            error = "the enrolment request's key is not a configured security-team key";
            return false;
        }

        if (requireMediaType && !string.Equals(verified.Header["typ"]?.GetValue<string>(), EnrollmentRequest.MediaType, StringComparison.Ordinal))
        {
            error = $"the enrolment request's typ is not {EnrollmentRequest.MediaType}";
            return false;
        }

        payload = verified.Payload;
        signerThumbprint = resolved;
        error = string.Empty;
        return true;
    }

    private Jwk? Resolve(string? kid, out string? thumbprint)
    {
        thumbprint = null;
        if (string.IsNullOrEmpty(kid))
        {
            return null;
        }

        foreach (Jwk key in _enrollmentKeys)
        {
            string keyThumbprint = key.ComputeThumbprint();
            if (string.Equals(key.Kid, kid, StringComparison.Ordinal) || string.Equals(keyThumbprint, kid, StringComparison.Ordinal))
            {
                thumbprint = keyThumbprint;
                return key;
            }
        }

        return null;
    }

    internal static string ComputeEntryHash(long sequence, string previousHash, string platformId, string region, string? previousRegion, long enrolledAtMs, string enrolledBy, string signedEnrollment)
    {
        using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> number = stackalloc byte[8];
        AppendField(hash, EntryDomain);
        BinaryPrimitives.WriteInt64BigEndian(number, sequence);
        AppendField(hash, number);
        AppendField(hash, Encoding.UTF8.GetBytes(previousHash));
        AppendField(hash, Encoding.UTF8.GetBytes(platformId));
        AppendField(hash, Encoding.UTF8.GetBytes(region));
        AppendField(hash, Encoding.UTF8.GetBytes(previousRegion ?? string.Empty));
        BinaryPrimitives.WriteInt64BigEndian(number, enrolledAtMs);
        AppendField(hash, number);
        AppendField(hash, Encoding.UTF8.GetBytes(enrolledBy));
        AppendField(hash, Encoding.UTF8.GetBytes(signedEnrollment));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static void AppendField(IncrementalHash hash, ReadOnlySpan<byte> field)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, field.Length);
        hash.AppendData(length);
        hash.AppendData(field);
    }

    private SqliteConnection Open()
    {
        SqliteConnection connection = new(_connectionString);
        connection.Open();
        using SqliteCommand pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    private void CreateSchema()
    {
        using SqliteConnection connection = Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText =
            """
            CREATE TABLE IF NOT EXISTS enrollments (
                sequence        INTEGER PRIMARY KEY,
                platform_id     TEXT    NOT NULL,
                region          TEXT    NOT NULL,
                previous_region TEXT    NULL,
                enrolled_at_ms  INTEGER NOT NULL,
                enrolled_by     TEXT    NOT NULL,
                enrollment_jws  TEXT    NOT NULL,
                previous_hash   TEXT    NOT NULL,
                entry_hash      TEXT    NOT NULL
            );
            CREATE TRIGGER IF NOT EXISTS enrollments_append_only_update BEFORE UPDATE ON enrollments
            BEGIN SELECT RAISE(ABORT, 'enrollments is append-only'); END;
            CREATE TRIGGER IF NOT EXISTS enrollments_append_only_delete BEFORE DELETE ON enrollments
            BEGIN SELECT RAISE(ABORT, 'enrollments is append-only'); END;
            CREATE TABLE IF NOT EXISTS nodes (
                platform_id     TEXT    PRIMARY KEY,
                region          TEXT    NOT NULL,
                enrolled_at_ms  INTEGER NOT NULL,
                enrolled_by     TEXT    NOT NULL,
                enrollment_jws  TEXT    NOT NULL,
                sequence        INTEGER NOT NULL REFERENCES enrollments (sequence)
            );
            -- The jti and seq of every applied enrolment: a jti is applied once, and a platform's seq only rises.
            CREATE TABLE IF NOT EXISTS enrollment_ids (
                enrollment_id     TEXT    PRIMARY KEY,
                platform_id       TEXT    NOT NULL,
                platform_sequence INTEGER NOT NULL,
                log_sequence      INTEGER NOT NULL REFERENCES enrollments (sequence),
                UNIQUE (platform_id, platform_sequence)
            );
            CREATE TRIGGER IF NOT EXISTS enrollment_ids_append_only_update BEFORE UPDATE ON enrollment_ids
            BEGIN SELECT RAISE(ABORT, 'enrollment_ids is append-only'); END;
            CREATE TRIGGER IF NOT EXISTS enrollment_ids_append_only_delete BEFORE DELETE ON enrollment_ids
            BEGIN SELECT RAISE(ABORT, 'enrollment_ids is append-only'); END;
            """;
        command.ExecuteNonQuery();
    }

    private static NodeEnrollment? Find(SqliteConnection connection, SqliteTransaction? transaction, string platformId)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT platform_id, region, enrolled_at_ms, enrolled_by, enrollment_jws, sequence FROM nodes WHERE platform_id = $platform";
        command.Parameters.AddWithValue("$platform", platformId);
        using SqliteDataReader reader = command.ExecuteReader();
        return reader.Read() ? ReadNode(reader) : null;
    }

    private static bool IsIdSeen(SqliteConnection connection, SqliteTransaction transaction, string id)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT 1 FROM enrollment_ids WHERE enrollment_id = $id";
        command.Parameters.AddWithValue("$id", id);
        return command.ExecuteScalar() is not null;
    }

    /// <summary>The highest seq applied for the platform, or null when none was (never enrolled, or enrolled only
    /// before enrolments carried a seq).</summary>
    private static long? CurrentPlatformSequence(SqliteConnection connection, SqliteTransaction transaction, string platformId)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT MAX(platform_sequence) FROM enrollment_ids WHERE platform_id = $platform";
        command.Parameters.AddWithValue("$platform", platformId);
        return command.ExecuteScalar() is long value ? value : null;
    }

    private static (long Sequence, string Hash) ReadHead(SqliteConnection connection, SqliteTransaction transaction)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT sequence, entry_hash FROM enrollments ORDER BY sequence DESC LIMIT 1";
        using SqliteDataReader reader = command.ExecuteReader();
        return reader.Read() ? (reader.GetInt64(0), reader.GetString(1)) : (0, ZeroHash);
    }

    private static IReadOnlyList<EnrollmentLogEntry> ReadLog(SqliteConnection connection)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText =
            """
            SELECT sequence, platform_id, region, previous_region, enrolled_at_ms, enrolled_by, enrollment_jws, previous_hash, entry_hash
            FROM enrollments ORDER BY sequence
            """;
        using SqliteDataReader reader = command.ExecuteReader();
        List<EnrollmentLogEntry> entries = [];
        while (reader.Read())
        {
            entries.Add(new EnrollmentLogEntry(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)),
                reader.GetString(5),
                reader.GetString(6),
                reader.GetString(7),
                reader.GetString(8)));
        }

        return entries;
    }

    private static NodeEnrollment ReadNode(SqliteDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)),
        reader.GetString(3),
        reader.GetString(4),
        reader.GetInt64(5));
}
