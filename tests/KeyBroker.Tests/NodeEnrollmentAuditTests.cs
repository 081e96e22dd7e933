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
        _broker = new KeyBrokerService(
            new KeyBrokerOptions
            {
                DataDirectory = _directory.Path,
                TrustedIssuers = [BrokerHarness.Issuer],
                SimulatedMode = true,
                EnrollmentKeys = [BrokerHarness.PublicSigningJwk(_team)],
            },
            new Tokens.StaticVerifierKeySource(BrokerHarness.Issuer, new JwkSet([])));
    }

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
        Assert.True(_broker.VerifyAudit().IsValid);
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

    private static string Enrollment(ECDsa key, string platformId, string region, string typ = NodeEnrollmentRecord.JwsType)
    {
        var payload = new JsonObject { ["platformId"] = platformId, ["region"] = region, ["iat"] = 1768471200 };
        return Jws.Sign(Encoding.UTF8.GetBytes(payload.ToJsonString()), key, BrokerHarness.PublicSigningJwk(key).Kid, typ);
    }
}
