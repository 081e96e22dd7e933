using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

/// <summary>Node enrolments signed by the security team become audit entries; anything else is refused.</summary>
public sealed class NodeEnrollmentAuditTests : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly ECDsa _team = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly KeyBrokerService _broker;

    public NodeEnrollmentAuditTests()
    {
        _broker = OpenBroker();
    }

    private KeyBrokerService OpenBroker() => new(
        new KeyBrokerOptions
        {
            DataDirectory = _directory.Path,
            TrustedIssuers = [BrokerHarness.Issuer],
            SimulatedMode = true,
            EnrollmentKeys = [BrokerHarness.PublicSigningJwk(_team)],
        },
        new Tokens.StaticVerifierKeySource(BrokerHarness.Issuer, new JwkSet([])));

    [Fact]
    public void Signed_enrolment_is_recorded_with_its_fields_and_signature()
    {
        string signed = Enrollment(_team, new string('a', 64), "eu-west");

        AuditEntry entry = _broker.RecordNodeEnrollment(signed);

        Assert.Equal(nameof(AuditEntryKind.NodeEnrolled), entry.Kind);
        JsonObject body = JsonNode.Parse(entry.Body)!.AsObject();
        Assert.Equal(new string('a', 64), body["platformId"]!.GetValue<string>());
        Assert.Equal("eu-west", body["region"]!.GetValue<string>());
        Assert.Equal(signed, body["signedEnrollment"]!.GetValue<string>());
        Assert.Equal(1, body["seq"]!.GetValue<long>());
        Assert.Equal("abcdefghijklmnop-1", body["jti"]!.GetValue<string>());
        Assert.True(_broker.VerifyAudit().IsValid);
    }

    [Fact]
    public async Task Replayed_or_older_enrolment_is_refused_with_its_code_and_recorded_once()
    {
        string euWest = Enrollment(_team, new string('a', 64), "eu-west", seq: 1, jti: "abcdefghijklmnop-1");
        string usEast = Enrollment(_team, new string('a', 64), "us-east", seq: 2, jti: "abcdefghijklmnop-2");
        await _broker.RecordNodeEnrollmentAsync(euWest);
        await _broker.RecordNodeEnrollmentAsync(usEast);

        EnrollmentRefusedException replayed = await Assert.ThrowsAsync<EnrollmentRefusedException>(() => _broker.RecordNodeEnrollmentAsync(euWest));
        EnrollmentRefusedException older = Assert.Throws<EnrollmentRefusedException>(() => _broker.RecordNodeEnrollment(Enrollment(_team, new string('a', 64), "eu-west", seq: 2, jti: "abcdefghijklmnop-3")));
        EnrollmentRefusedException replayedSync = Assert.Throws<EnrollmentRefusedException>(() => _broker.RecordNodeEnrollment(usEast));

        Assert.Equal("EnrollmentReplayed", replayed.Code);
        Assert.Equal("EnrollmentSuperseded", older.Code);
        Assert.Equal("EnrollmentReplayed", replayedSync.Code);
        Assert.Equal([euWest, usEast], _broker.Audit.ReadEntries().Select(e => JsonNode.Parse(e.Body)!["signedEnrollment"]!.GetValue<string>()));
        Assert.True(_broker.VerifyAudit().IsValid);

        // Another platform's sequence is its own.
        await _broker.RecordNodeEnrollmentAsync(Enrollment(_team, new string('b', 64), "eu-west", seq: 1, jti: "abcdefghijklmnop-4"));
        Assert.Equal(3, _broker.Audit.ReadEntries().Count());
    }

    [Fact]
    public void Replay_after_the_broker_restarts_is_still_refused()
    {
        string euWest = Enrollment(_team, new string('a', 64), "eu-west", seq: 5, jti: "abcdefghijklmnop-5");
        _broker.RecordNodeEnrollment(euWest);
        _broker.RecordNodeEnrollment(Enrollment(_team, new string('a', 64), "us-east", seq: 6, jti: "abcdefghijklmnop-6"));
        _broker.Dispose();

        using KeyBrokerService restarted = OpenBroker();

        Assert.Equal("EnrollmentReplayed", Assert.Throws<EnrollmentRefusedException>(() => restarted.RecordNodeEnrollment(euWest)).Code);
        Assert.Equal("EnrollmentSuperseded", Assert.Throws<EnrollmentRefusedException>(() => restarted.RecordNodeEnrollment(Enrollment(_team, new string('a', 64), "eu-west", seq: 4, jti: "abcdefghijklmnop-7"))).Code);
        Assert.Equal(2, restarted.Audit.ReadEntries().Count());
    }

    [Theory]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"seq":1}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":"abcdefghijklmnop"}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":"abcdefghijklmnop","seq":0}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":"abcdefghijklmnop","seq":"1"}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":"abcdefghijklmnop","seq":1.5}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":"abcdefghijklmnop","seq":9007199254740992}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":"short","seq":1}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":7,"seq":1}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":"abcdefghijklmnop","seq":1,"seq":2}""")]
    [InlineData("""{"platformId":"P","region":"eu","iat":1768471200,"jti":"abcdefghijklmnop","seq":1,"admin":true}""")]
    public void Enrolment_without_a_valid_jti_and_seq_is_refused_and_not_recorded(string template)
    {
        string payload = template.Replace("\"P\"", $"\"{new string('a', 64)}\"", StringComparison.Ordinal);
        string signed = Jws.Sign(Encoding.UTF8.GetBytes(payload), _team, BrokerHarness.PublicSigningJwk(_team).Kid, NodeEnrollmentRecord.JwsType);

        Assert.Throws<FormatException>(() => _broker.RecordNodeEnrollment(signed));
        Assert.Empty(_broker.Audit.ReadEntries());
    }

    [Fact]
    public void Enrolments_not_signed_by_the_team_or_malformed_are_refused_and_not_recorded()
    {
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.Throws<FormatException>(() => _broker.RecordNodeEnrollment(Enrollment(stranger, new string('a', 64), "eu-west")));
        Assert.Throws<FormatException>(() => _broker.RecordNodeEnrollment(Enrollment(_team, "../etc", "eu-west")));
        Assert.Throws<FormatException>(() => _broker.RecordNodeEnrollment(Enrollment(_team, new string('a', 64), "EU west")));
        Assert.Throws<FormatException>(() => _broker.RecordNodeEnrollment(Enrollment(_team, new string('a', 64), "eu-west", typ: "JWT")));
        Assert.Throws<FormatException>(() => _broker.RecordNodeEnrollment(string.Empty));
        Assert.Empty(_broker.Audit.ReadEntries());
    }

    public void Dispose()
    {
        _broker.Dispose();
        _team.Dispose();
        _directory.Dispose();
    }

    private static string Enrollment(ECDsa key, string platformId, string region, string typ = NodeEnrollmentRecord.JwsType, long seq = 1, string jti = "abcdefghijklmnop-1")
    {
        var payload = new JsonObject { ["platformId"] = platformId, ["region"] = region, ["iat"] = 1768471200, ["jti"] = jti, ["seq"] = seq };
        return Jws.Sign(Encoding.UTF8.GetBytes(payload.ToJsonString()), key, BrokerHarness.PublicSigningJwk(key).Kid, typ);
    }
}
