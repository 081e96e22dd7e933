// The trust chain across components, in process: evidence written by the enclave's simulated platform is
// verified by the attestation service, whose token admits the participant to secure aggregation and names the key
// every one of its protocol messages must be signed with; the server sees only masked vectors that differ from
// every participant's quantised update, and their exact sum.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Nodes;
using Enclave.Crypto;
using Enclave.EnclaveApp.Attestation;
using Enclave.SecureAggregation;
using Enclave.SecureAggregation.Staged;
using Enclave.Testing;

namespace Enclave.Integration.Tests;

public sealed class EvidenceToMaskingContractTests : IDisposable
{
    private const string Issuer = "https://verifier.test";
    private static readonly string[] s_regions = ["eu-west", "us-east", "ap-south"];
    private readonly TempDirectory _directory = new("enclave-contract");
    private readonly ECDsa _team = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly AttestationService _verifier;
    private readonly JwtValidationParameters _validation;
    private readonly string _root;

    public EvidenceToMaskingContractTests()
    {
        _root = _directory.Combine("root");
        SimulatedPlatformAuthority.CreateRoot(_root);
        var options = new VerifierOptions(Issuer, _directory.Combine("verifier"))
        {
            AllowSimulated = true,
            SimulatedRoot = SimulatedRoot.LoadFile(Path.Combine(_root, SimulatedPlatformAuthority.RootCertificateFileName)),
        };
        options.EnrollmentKeys.Add(Jwk.FromEcPublic(_team.ExportParameters(false), use: "sig"));
        _verifier = new AttestationService(options);
        JwkSet jwks = JwkSet.Parse(_verifier.GetJwks());
        _validation = new JwtValidationParameters { ValidIssuers = [Issuer], KeyResolver = kid => kid is null ? null : jwks.Find(kid) };
    }

    [Fact]
    public void EveryMaskedUpdateDiffersFromItsQuantisedUpdateAndTheUnmaskedSumIsExact()
    {
        const int length = 5_000;
        var quantizer = new RingQuantizer(clip: 1.0, scaleBits: 16, ringBits: 32, cohortSize: s_regions.Length);
        var signing = new List<ECDsa>();
        var verification = new List<ECDsa>();
        var inputs = new List<uint[]>();
        foreach (string region in s_regions)
        {
            var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            (string token, string measurement) = AttestNewPlatform(region, key);
            var policy = new ParticipantPolicy([measurement], s_regions, AllowSimulated: true);
            AttestedParticipant participant = AttestedParticipant.FromToken(token, _validation, policy);
            Assert.Equal(region, participant.Region);
            Assert.True(participant.Simulated);

            // The round verifies every message against the key the token attests, not the one the client holds.
            signing.Add(key);
            verification.Add(participant.SigningKey.CreateECDsa());
            float[] update = [.. Enumerable.Range(0, length).Select(i => (float)Math.Sin(i + region.Length) * 0.01f)];
            var quantised = new uint[length];
            quantizer.Quantize(update, quantised, RandomNumberGenerator.GetBytes(32));
            inputs.Add(quantised);
        }

        var round = new SecAggRound("round-1", SecAggParameters.Derive(s_regions.Length, 0, 0), RandomNumberGenerator.GetBytes(32), length, 32, verification);
        var server = new SecAggServer(round);
        SecAggClient[] clients = [.. signing.Select((key, i) => new SecAggClient(round, i + 1, key))];
        foreach (SecAggClient c in clients)
        {
            server.Receive(c.Advertise());
        }

        foreach (KeyDirectory d in server.CloseAdvertiseKeys())
        {
            server.Receive(clients[d.Recipient - 1].HandleKeys(d));
        }

        foreach (ShareDelivery d in server.CloseShareKeys())
        {
            uint[] quantised = inputs[d.Recipient - 1];
            MaskedInput masked = clients[d.Recipient - 1].HandleShares(d, quantised);
            Assert.True(masked.Vector.Zip(quantised).Count(p => p.First != p.Second) > length * 0.99, "a masked update must not reveal its quantised update");
            server.Receive(masked);
        }

        foreach (SurvivorSet set in server.CloseMaskedInput())
        {
            server.Receive(clients[set.Recipient - 1].HandleSurvivors(set));
        }

        foreach (UnmaskRequest request in server.CloseConsistencyCheck())
        {
            server.Receive(clients[request.Recipient - 1].HandleUnmask(request));
        }

        SecAggResult result = server.CloseUnmask();
        uint[] expected = new uint[length];
        foreach (uint[] quantised in inputs)
        {
            for (int i = 0; i < length; i++)
            {
                expected[i] = unchecked(expected[i] + quantised[i]);
            }
        }

        Assert.Equal(expected, result.Sum);
        foreach (IDisposable d in clients.Concat<IDisposable>(signing).Concat(verification))
        {
            d.Dispose();
        }
    }

    // A client whose signing key is not the one its token attests cannot take part: its first message is refused.
    [Fact]
    public void AMessageSignedByAKeyOtherThanTheAttestedOneIsRefused()
    {
        using var attested = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        (string token, string measurement) = AttestNewPlatform("eu-west", attested);
        AttestedParticipant participant = AttestedParticipant.FromToken(token, _validation, new ParticipantPolicy([measurement], s_regions, AllowSimulated: true));
        using ECDsa verification = participant.SigningKey.CreateECDsa();
        using var peer2 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var peer3 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var round = new SecAggRound("round-1", SecAggParameters.Derive(3, 0, 0), new byte[32], 16, 32, [verification, peer2, peer3]);
        var server = new SecAggServer(round);
        using var impostor = new SecAggClient(round, 1, other);
        var ex = Assert.Throws<SecAggException>(() => server.Receive(impostor.Advertise()));
        Assert.Equal(SecAggErrorCode.BadSignature, ex.Code);
    }

    [Fact]
    public void AParticipantOfAnotherMeasurementOrRegionIsRefusedBeforeMasking()
    {
        using var signing = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        (string token, string measurement) = AttestNewPlatform("eu-west", signing);

        var otherCode = new ParticipantPolicy([new string('0', 64)], s_regions, AllowSimulated: true);
        Assert.Equal("MeasurementNotAllowed", Assert.Throws<ParticipantRejectedException>(() => AttestedParticipant.FromToken(token, _validation, otherCode)).Code);

        var otherRegion = new ParticipantPolicy([measurement], ["us-east"], AllowSimulated: true);
        Assert.Equal("RegionNotAllowed", Assert.Throws<ParticipantRejectedException>(() => AttestedParticipant.FromToken(token, _validation, otherRegion)).Code);

        var hardwareOnly = new ParticipantPolicy([measurement], s_regions, AllowSimulated: false);
        Assert.Equal("SimulatedNotAllowed", Assert.Throws<ParticipantRejectedException>(() => AttestedParticipant.FromToken(token, _validation, hardwareOnly)).Code);

        var foreignVerifier = new JwtValidationParameters { ValidIssuers = [Issuer], KeyResolver = _ => Jwk.FromEcPublic(_team.ExportParameters(false)) };
        Assert.Equal("TokenInvalid", Assert.Throws<ParticipantRejectedException>(() => AttestedParticipant.FromToken(token, foreignVerifier, otherRegion)).Code);
    }

    private (string Token, string Measurement) AttestNewPlatform(string region, ECDsa signing)
    {
        string platformDir = _directory.Combine("platforms", region + "-" + Guid.NewGuid().ToString("N")[..8]);
        string platformId = SimulatedPlatformAuthority.CreatePlatform(_root, platformDir);
        Assert.True(_verifier.Enroll(EnrollmentRequest.Create(_team, platformId, region)).Succeeded);
        using SimulatedPlatform platform = SimulatedPlatform.Load(platformDir, RepositoryPaths.EnclaveAppDirectory);
        using var encryption = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        byte[] runtime = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["keys"] = new JsonArray(
                Jwk.FromEcPublic(encryption.ExportParameters(false), "enc", "enc").ToJsonObject(),
                Jwk.FromEcPublic(signing.ExportParameters(false), "sig", "sig").ToJsonObject()),
            ["nonce"] = Base64Url.Encode(RandomNumberGenerator.GetBytes(32)),
            ["round"] = "round-1",
        }.ToJsonString());
        AttestationOutcome outcome = _verifier.Attest(EvidenceFormat.Simulated, platform.CreateEvidence(SHA512.HashData(runtime)), runtime);
        Assert.True(outcome.Succeeded, outcome.Message);
        Assert.Equal("simulated", outcome.Claims!["x-ms-attestation-type"]!.GetValue<string>());
        return (outcome.Token!, Convert.ToHexStringLower(platform.Measurement));
    }

    public void Dispose()
    {
        _verifier.Dispose();
        _team.Dispose();
        _directory.Dispose();
    }
}
