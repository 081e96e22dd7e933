using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Nodes;
using Enclave.Crypto;
using Microsoft.Data.Sqlite;

namespace Enclave.AttestationVerifier.Tests;

public sealed class NodeRegistryTests : IDisposable
{
    private const string OtherPlatform = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    private readonly VerifierTestContext _context = new();
    private readonly NodeRegistry _registry;

    public NodeRegistryTests()
    {
        System.IO.Directory.CreateDirectory(_context.DataDirectory);
        _registry = new NodeRegistry(DatabasePath, [_context.SecurityTeamJwk], _context.Time);
    }

    private string DatabasePath => Path.Combine(_context.DataDirectory, "nodes.db");

    public void Dispose() => _context.Dispose();

    [Fact]
    public void Enroll_SignedRequest_RecordsRegionSignerAndRequest()
    {
        string request = EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu-west-1", timeProvider: _context.Time);

        EnrollmentOutcome outcome = _registry.Enroll(request);

        Assert.True(outcome.Succeeded, outcome.Message);
        NodeEnrollment node = _registry.Find(_context.PlatformId)!;
        Assert.Equal("eu-west-1", node.Region);
        Assert.Equal(VerifierTestContext.Start, node.EnrolledAt);
        Assert.Equal(_context.SecurityTeamJwk.ComputeThumbprint(), node.EnrolledBy);
        Assert.Equal(request, node.SignedEnrollment);
        Assert.Equal(1, node.Sequence);
        Assert.Null(_registry.Find(OtherPlatform));
        Assert.True(_registry.Verify().IsIntact);
    }

    [Fact]
    public void Enroll_KeyWithoutKidInConfiguration_IsMatchedByThumbprint()
    {
        NodeRegistry registry = new(Path.Combine(_context.DataDirectory, "other.db"), [Jwk.FromEcPublic(_context.SecurityTeamKey.ExportParameters(false))], _context.Time);

        EnrollmentOutcome outcome = registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time));

        Assert.True(outcome.Succeeded, outcome.Message);
    }

    [Fact]
    public void Enroll_SignedByAnUnknownKey_IsRefused()
    {
        using ECDsa stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        EnrollmentOutcome outcome = _registry.Enroll(EnrollmentRequest.Create(stranger, _context.PlatformId, "eu", timeProvider: _context.Time));

        Assert.Equal(EnrollmentError.SignatureInvalid, outcome.Error);
        Assert.Null(_registry.Find(_context.PlatformId));
        Assert.Empty(_registry.ReadLog());
    }

    [Fact]
    public void Enroll_WithTheTeamKidButAnotherKey_IsRefused()
    {
        using ECDsa stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string request = Sign(stranger, Payload(_context.PlatformId, "eu"), _context.SecurityTeamJwk.Kid);

        Assert.Equal(EnrollmentError.SignatureInvalid, _registry.Enroll(request).Error);
    }

    [Fact]
    public void Enroll_WithAWrongType_IsRefused()
    {
        string request = Sign(_context.SecurityTeamKey, Payload(_context.PlatformId, "eu"), _context.SecurityTeamJwk.Kid, typ: "JWT");

        Assert.Equal(EnrollmentError.SignatureInvalid, _registry.Enroll(request).Error);
    }

    [Fact]
    public void Enroll_TamperedPayload_IsRefused()
    {
        string request = EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time);
        string[] parts = request.Split('.');
        JsonObject payload = JsonNode.Parse(Base64Url.Decode(parts[1]))!.AsObject();
        payload["region"] = "us";
        string tampered = parts[0] + "." + Base64Url.Encode(Encoding.UTF8.GetBytes(payload.ToJsonString())) + "." + parts[2];

        Assert.Equal(EnrollmentError.SignatureInvalid, _registry.Enroll(tampered).Error);
    }

    [Theory]
    [InlineData(-301)]
    [InlineData(301)]
    [InlineData(-86400)]
    public void Enroll_IatOutsideFiveMinutes_IsStale(int offsetSeconds)
    {
        string request = EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: new ManualTimeProvider(VerifierTestContext.Start.AddSeconds(offsetSeconds)));

        Assert.Equal(EnrollmentError.Stale, _registry.Enroll(request).Error);
    }

    [Theory]
    [InlineData(-300)]
    [InlineData(300)]
    public void Enroll_IatWithinFiveMinutes_IsAccepted(int offsetSeconds)
    {
        string request = EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: new ManualTimeProvider(VerifierTestContext.Start.AddSeconds(offsetSeconds)));

        Assert.True(_registry.Enroll(request).Succeeded);
    }

    [Theory]
    [InlineData("")]
    [InlineData("EU-West")]
    [InlineData("eu_west")]
    [InlineData("eu west")]
    [InlineData("eu-west\n")]
    [InlineData("région")]
    [InlineData("../eu")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public void Enroll_BadRegion_IsRefused(string region)
    {
        string request = Sign(_context.SecurityTeamKey, Payload(_context.PlatformId, region), _context.SecurityTeamJwk.Kid);

        Assert.Equal(EnrollmentError.InvalidRegion, _registry.Enroll(request).Error);
        Assert.Throws<ArgumentException>(() => EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, region, timeProvider: _context.Time));
    }

    [Theory]
    [InlineData("")]
    [InlineData("00112233")]
    [InlineData("00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF")]
    [InlineData("00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg")]
    public void Enroll_BadPlatformId_IsRefused(string platformId)
    {
        string request = Sign(_context.SecurityTeamKey, Payload(platformId, "eu"), _context.SecurityTeamJwk.Kid);

        Assert.Equal(EnrollmentError.InvalidPlatformId, _registry.Enroll(request).Error);
    }

    [Theory]
    [InlineData("""{"platformId":"P","region":"eu",IDS}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":"1",IDS}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1.5,IDS}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,IDS,"replace":"yes"}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,IDS,"admin":true}""")]
    [InlineData("""{"platformId":"P","region":"eu","region":"us","iat":T,IDS}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"seq":1}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrs"}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrs","seq":0}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrs","seq":-1}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrs","seq":"1"}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrs","seq":1.5}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrs","seq":9007199254740992}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrs","seq":1,"seq":2}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"short","seq":1}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrs/","seq":1}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":12345678901234567890,"seq":1}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":T,"jti":"abcdefghijklmnopqrsabcdefghijklmnopqrsabcdefghijklmnopqrsabcdefghij","seq":1}""")]
    [InlineData("""["P"]""")]
    [InlineData("""not json""")]
    public void Enroll_MalformedPayload_IsRefused(string template)
    {
        // IDS: a valid jti and seq, so that each row's only defect is the one it shows.
        string json = template.Replace("IDS", "\"jti\":\"abcdefghijklmnopqrs\",\"seq\":1", StringComparison.Ordinal)
            .Replace("\"P\"", $"\"{_context.PlatformId}\"", StringComparison.Ordinal)
            .Replace("T", VerifierTestContext.Start.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        string request = Jws.Sign(Encoding.UTF8.GetBytes(json), _context.SecurityTeamKey, _context.SecurityTeamJwk.Kid, EnrollmentRequest.MediaType);

        Assert.Equal(EnrollmentError.Malformed, _registry.Enroll(request).Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a.b")]
    [InlineData("not a jws")]
    public void Enroll_NotAJws_IsRefused(string request)
    {
        Assert.False(_registry.Enroll(request).Succeeded);
    }

    [Fact]
    public void Enroll_InAnotherRegionWithoutReplace_IsRefused_AndWithReplaceMovesThePlatform()
    {
        Assert.True(_registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu-west-1", timeProvider: _context.Time)).Succeeded);

        EnrollmentOutcome silent = _registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "us-east-1", timeProvider: _context.Time));

        Assert.Equal(EnrollmentError.RegionChangeNotConfirmed, silent.Error);
        Assert.Equal("eu-west-1", _registry.Find(_context.PlatformId)!.Region);

        EnrollmentOutcome moved = _registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "us-east-1", replace: true, timeProvider: _context.Time));

        Assert.True(moved.Succeeded, moved.Message);
        Assert.Equal("eu-west-1", moved.PreviousRegion);
        Assert.Equal("us-east-1", _registry.Find(_context.PlatformId)!.Region);
        IReadOnlyList<EnrollmentLogEntry> log = _registry.ReadLog();
        Assert.Equal(2, log.Count);
        Assert.Equal("eu-west-1", log[1].PreviousRegion);
        Assert.Equal(log[0].EntryHash, log[1].PreviousHash);
        Assert.True(_registry.Verify().IsIntact);
    }

    [Fact]
    public void Enroll_SameRegionAgain_IsAcceptedAndLogged()
    {
        Assert.True(_registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time)).Succeeded);
        _context.Time.Advance(TimeSpan.FromSeconds(10));

        EnrollmentOutcome again = _registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time));

        Assert.True(again.Succeeded);
        Assert.Null(again.PreviousRegion);
        Assert.Equal(2, _registry.ReadLog().Count);
    }

    [Theory]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void Enroll_IatWhoseDistanceFromNowOverflows_IsStale(long offset)
    {
        // now - iat is exactly 2^63 (or -2^63 + 1): |now - iat| would overflow, so the check compares bounds.
        long iat = unchecked(VerifierTestContext.Start.ToUnixTimeSeconds() + offset);
        string payload = new JsonObject
        {
            ["platformId"] = _context.PlatformId,
            ["region"] = "eu",
            ["iat"] = iat,
            ["jti"] = "abcdefghijklmnopqrs",
            ["seq"] = 1,
        }.ToJsonString();

        EnrollmentOutcome outcome = _registry.Enroll(Sign(_context.SecurityTeamKey, payload, _context.SecurityTeamJwk.Kid));

        Assert.Equal(EnrollmentError.Stale, outcome.Error);
    }

    [Fact]
    public void Enroll_SameRequestTwice_IsRefusedAsReplayed_AndLoggedOnce()
    {
        string request = EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time);
        Assert.True(_registry.Enroll(request).Succeeded);

        EnrollmentOutcome replayed = _registry.Enroll(request);

        Assert.Equal(EnrollmentError.Replayed, replayed.Error);
        Assert.Single(_registry.ReadLog());
        Assert.True(_registry.Verify().IsIntact);
    }

    [Fact]
    public void Enroll_CapturedEnrolmentAfterAMove_IsRefused_AndThePlatformStays()
    {
        string euWest = EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu-west", timeProvider: _context.Time, sequence: 1);
        string usEast = EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "us-east", replace: true, timeProvider: _context.Time, sequence: 2);
        Assert.True(_registry.Enroll(euWest).Succeeded);
        Assert.True(_registry.Enroll(usEast).Succeeded);

        EnrollmentOutcome replayed = _registry.Enroll(euWest);
        EnrollmentOutcome older = _registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu-west", replace: true, timeProvider: _context.Time, sequence: 2));

        Assert.Equal(EnrollmentError.Replayed, replayed.Error);
        Assert.Equal(EnrollmentError.Superseded, older.Error);
        Assert.Contains("seq 2", older.Message, StringComparison.Ordinal);
        Assert.Equal("us-east", _registry.Find(_context.PlatformId)!.Region);
        Assert.Equal(2, _registry.ReadLog().Count);
    }

    [Fact]
    public void Enroll_ReplayAfterTheRegistryIsReopened_IsStillRefused()
    {
        string euWest = EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu-west", timeProvider: _context.Time, sequence: 10);
        Assert.True(_registry.Enroll(euWest).Succeeded);
        Assert.True(_registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "us-east", replace: true, timeProvider: _context.Time, sequence: 11)).Succeeded);

        NodeRegistry reopened = new(DatabasePath, [_context.SecurityTeamJwk], _context.Time);

        Assert.Equal(EnrollmentError.Replayed, reopened.Enroll(euWest).Error);
        Assert.Equal(EnrollmentError.Superseded, reopened.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu-west", replace: true, timeProvider: _context.Time, sequence: 9)).Error);
        Assert.Equal("us-east", reopened.Find(_context.PlatformId)!.Region);
    }

    [Fact]
    public void Enroll_SequenceOfAnotherPlatform_DoesNotMatter()
    {
        Assert.True(_registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time, sequence: 100)).Succeeded);

        EnrollmentOutcome other = _registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, OtherPlatform, "us", timeProvider: _context.Time, sequence: 1));

        Assert.True(other.Succeeded, other.Message);
    }

    [Fact]
    public void Create_WithAFrozenClock_IssuesStrictlyIncreasingSequencesAndFreshIds()
    {
        JsonObject first = PayloadOf(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time));
        JsonObject second = PayloadOf(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time));

        Assert.True(second["seq"]!.GetValue<long>() > first["seq"]!.GetValue<long>());
        Assert.NotEqual(first["jti"]!.GetValue<string>(), second["jti"]!.GetValue<string>());
        Assert.Throws<ArgumentOutOfRangeException>(() => EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time, sequence: 0));
        Assert.Throws<ArgumentException>(() => EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time, id: "short"));
    }

    [Fact]
    public void Verify_EntryFromBeforeEnrolmentsCarriedIds_IsStillIntact()
    {
        // A log entry an earlier verifier accepted: its signed payload has neither jti nor seq.
        string legacy = Sign(
            _context.SecurityTeamKey,
            new JsonObject { ["platformId"] = _context.PlatformId, ["region"] = "eu", ["iat"] = VerifierTestContext.Start.ToUnixTimeSeconds() }.ToJsonString(),
            _context.SecurityTeamJwk.Kid);
        Assert.Equal(EnrollmentError.Malformed, _registry.Enroll(legacy).Error);
        long at = VerifierTestContext.Start.ToUnixTimeMilliseconds();
        string by = _context.SecurityTeamJwk.ComputeThumbprint();
        string hash = NodeRegistry.ComputeEntryHash(1, new string('0', 64), _context.PlatformId, "eu", null, at, by, legacy);
        Execute(
            $"""
            INSERT INTO enrollments VALUES (1, '{_context.PlatformId}', 'eu', NULL, {at}, '{by}', '{legacy}', '{new string('0', 64)}', '{hash}');
            INSERT INTO nodes VALUES ('{_context.PlatformId}', 'eu', {at}, '{by}', '{legacy}', 1);
            """);

        Assert.True(_registry.Verify().IsIntact);
        EnrollmentOutcome next = _registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "us", replace: true, timeProvider: _context.Time, sequence: 1));
        Assert.True(next.Succeeded, next.Message);
        Assert.True(_registry.Verify().IsIntact);
    }

    [Fact]
    public void Registry_ReopenedFromDisk_KeepsEnrolmentsAndLog()
    {
        _registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time));

        NodeRegistry reopened = new(DatabasePath, [_context.SecurityTeamJwk], _context.Time);

        Assert.Equal("eu", reopened.Find(_context.PlatformId)!.Region);
        Assert.Single(reopened.List());
        Assert.True(reopened.Verify().IsIntact);
    }

    [Fact]
    public void Log_RefusesUpdatesAndDeletesThroughSql()
    {
        _registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time));

        Assert.Throws<SqliteException>(() => Execute("UPDATE enrollments SET region = 'us'"));
        Assert.Throws<SqliteException>(() => Execute("DELETE FROM enrollments"));
    }

    [Fact]
    public void Verify_EditedLogRow_IsDetected()
    {
        EnrollTwoPlatforms();
        Execute("DROP TRIGGER enrollments_append_only_update; UPDATE enrollments SET region = 'us' WHERE sequence = 1");

        EnrollmentLogReport report = _registry.Verify();

        Assert.False(report.IsIntact);
        Assert.Contains(report.Problems, p => p.Kind == EnrollmentLogProblemKind.HashMismatch && p.Sequence == 1);
        Assert.Contains(report.Problems, p => p.Kind == EnrollmentLogProblemKind.PayloadMismatch && p.Sequence == 1);
    }

    [Fact]
    public void Verify_RowRewrittenWithRecomputedHashes_IsDetectedByItsSignedRequest()
    {
        EnrollTwoPlatforms();
        IReadOnlyList<EnrollmentLogEntry> log = _registry.ReadLog();
        string previousHash = new('0', 64);
        List<string> statements = ["DROP TRIGGER enrollments_append_only_update;"];
        foreach (EnrollmentLogEntry entry in log)
        {
            string region = entry.Sequence == 1 ? "us" : entry.Region;
            string hash = NodeRegistry.ComputeEntryHash(entry.Sequence, previousHash, entry.PlatformId, region, entry.PreviousRegion, entry.EnrolledAt.ToUnixTimeMilliseconds(), entry.EnrolledBy, entry.SignedEnrollment);
            statements.Add($"UPDATE enrollments SET region = '{region}', previous_hash = '{previousHash}', entry_hash = '{hash}' WHERE sequence = {entry.Sequence};");
            previousHash = hash;
        }

        statements.Add($"UPDATE nodes SET region = 'us' WHERE platform_id = '{_context.PlatformId}';");
        Execute(string.Join('\n', statements));

        EnrollmentLogReport report = _registry.Verify();

        EnrollmentLogProblem problem = Assert.Single(report.Problems);
        Assert.Equal(EnrollmentLogProblemKind.PayloadMismatch, problem.Kind);
        Assert.Equal(1, problem.Sequence);
        Assert.NotEqual(log[^1].EntryHash, report.HeadHash);
    }

    [Fact]
    public void Verify_DeletedLogRow_IsDetected()
    {
        EnrollTwoPlatforms();
        Execute("PRAGMA foreign_keys = OFF; DROP TRIGGER enrollments_append_only_delete; DELETE FROM enrollments WHERE sequence = 1");

        EnrollmentLogReport report = _registry.Verify();

        Assert.Contains(report.Problems, p => p.Kind == EnrollmentLogProblemKind.SequenceGap);
        Assert.Contains(report.Problems, p => p.Kind == EnrollmentLogProblemKind.ChainBroken);
        Assert.Contains(report.Problems, p => p.Kind == EnrollmentLogProblemKind.NodeMismatch);
    }

    [Fact]
    public void Verify_EditedCurrentRegion_IsDetected()
    {
        EnrollTwoPlatforms();
        Execute($"UPDATE nodes SET region = 'us' WHERE platform_id = '{_context.PlatformId}'");

        EnrollmentLogReport report = _registry.Verify();

        Assert.Equal(EnrollmentLogProblemKind.NodeMismatch, Assert.Single(report.Problems).Kind);
    }

    [Fact]
    public void Verify_IntactLog_ReportsItsHead()
    {
        EnrollTwoPlatforms();

        EnrollmentLogReport report = _registry.Verify();

        Assert.True(report.IsIntact);
        Assert.Equal(2, report.EntryCount);
        Assert.Equal(_registry.ReadLog()[^1].EntryHash, report.HeadHash);
    }

    private void EnrollTwoPlatforms()
    {
        Assert.True(_registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, _context.PlatformId, "eu", timeProvider: _context.Time)).Succeeded);
        Assert.True(_registry.Enroll(EnrollmentRequest.Create(_context.SecurityTeamKey, OtherPlatform, "us", timeProvider: _context.Time)).Succeeded);
    }

    private void Execute(string sql)
    {
        using SqliteConnection connection = new(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private string Payload(string platformId, string region) =>
        new JsonObject
        {
            ["platformId"] = platformId,
            ["region"] = region,
            ["iat"] = VerifierTestContext.Start.ToUnixTimeSeconds(),
            ["jti"] = Base64Url.Encode(RandomNumberGenerator.GetBytes(16)),
            ["seq"] = 1,
        }.ToJsonString();

    private static JsonObject PayloadOf(string compact) =>
        JsonNode.Parse(Base64Url.Decode(compact.Split('.')[1]))!.AsObject();

    private static string Sign(ECDsa key, string payload, string? kid, string typ = EnrollmentRequest.MediaType) =>
        Jws.Sign(Encoding.UTF8.GetBytes(payload), key, kid, typ);
}
