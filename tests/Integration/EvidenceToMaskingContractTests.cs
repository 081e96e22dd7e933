// The trust chain across components, in process: evidence written by the enclave's simulated platform is
// verified by the attestation service, whose token admits the participant to secure aggregation; the coordinator
// sees only masked vectors that differ from every participant's quantised update, and their exact sum.
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
        var quantization = new QuantizationOptions(1.0, 16);
        const int length = 5_000;
        var parts = new List<(AttestedParticipant Participant, ECDiffieHellman Agreement, uint[] Quantised)>();
        foreach (string region in s_regions)
        {
            var agreement = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
            (string token, string measurement) = AttestNewPlatform(region, agreement);
            var policy = new ParticipantPolicy([measurement], s_regions, AllowSimulated: true);
            AttestedParticipant participant = AttestedParticipant.FromToken(token, _validation, policy);
            Assert.Equal(region, participant.Region);
            Assert.True(participant.Simulated);

            float[] update = Enumerable.Range(0, length).Select(i => (float)Math.Sin(i + region.Length) * 0.01f).ToArray();
            uint[] quantised = new uint[length];
            Quantizer.Quantize(update, quantised, quantization);
            parts.Add((participant, agreement, quantised));
        }

        var sum = new MaskedSum(length);
        var clients = new List<(string Id, MaskingClient Client)>();
        foreach ((AttestedParticipant me, ECDiffieHellman agreement, uint[] quantised) in parts)
        {
            var seeds = parts.Where(p => p.Participant.TokenId != me.TokenId)
                .ToDictionary(p => p.Participant.TokenId, p => p.Participant.DerivePairwiseSeed(agreement, "round-1", me.TokenId));
            uint[] masked = (uint[])quantised.Clone();
            var client = new MaskingClient(me.TokenId);
            client.Mask(masked, seeds);
            Assert.True(masked.Zip(quantised).Count(p => p.First != p.Second) > length * 0.99, "a masked update must not reveal its quantised update");
            sum.Add(me.TokenId, masked);
            clients.Add((me.TokenId, client));
        }

        string[] survivors = clients.Select(c => c.Id).ToArray();
        foreach ((string id, MaskingClient client) in clients)
        {
            sum.RemoveSelfMask(id, client.RevealSelfSeed(survivors));
            client.Dispose();
        }

        uint[] expected = new uint[length];
        foreach ((_, ECDiffieHellman agreement, uint[] quantised) in parts)
        {
            for (int i = 0; i < length; i++)
            {
                expected[i] = unchecked(expected[i] + quantised[i]);
            }

            agreement.Dispose();
        }

        Assert.Equal(expected, sum.Result.ToArray());
    }

    [Fact]
    public void AParticipantOfAnotherMeasurementOrRegionIsRefusedBeforeMasking()
    {
        using var agreement = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        (string token, string measurement) = AttestNewPlatform("eu-west", agreement);

        var otherCode = new ParticipantPolicy([new string('0', 64)], s_regions, AllowSimulated: true);
        Assert.Equal("MeasurementNotAllowed", Assert.Throws<ParticipantRejectedException>(() => AttestedParticipant.FromToken(token, _validation, otherCode)).Code);

        var otherRegion = new ParticipantPolicy([measurement], ["us-east"], AllowSimulated: true);
        Assert.Equal("RegionNotAllowed", Assert.Throws<ParticipantRejectedException>(() => AttestedParticipant.FromToken(token, _validation, otherRegion)).Code);

        var hardwareOnly = new ParticipantPolicy([measurement], s_regions, AllowSimulated: false);
        Assert.Equal("SimulatedNotAllowed", Assert.Throws<ParticipantRejectedException>(() => AttestedParticipant.FromToken(token, _validation, hardwareOnly)).Code);

        var foreignVerifier = new JwtValidationParameters { ValidIssuers = [Issuer], KeyResolver = _ => Jwk.FromEcPublic(_team.ExportParameters(false)) };
        Assert.Equal("TokenInvalid", Assert.Throws<ParticipantRejectedException>(() => AttestedParticipant.FromToken(token, foreignVerifier, otherRegion)).Code);
    }

    private (string Token, string Measurement) AttestNewPlatform(string region, ECDiffieHellman agreement)
    {
        string platformDir = _directory.Combine("platforms", region + "-" + Guid.NewGuid().ToString("N")[..8]);
        string platformId = SimulatedPlatformAuthority.CreatePlatform(_root, platformDir);
        Assert.True(_verifier.Enroll(EnrollmentRequest.Create(_team, platformId, region)).Succeeded);
        using SimulatedPlatform platform = SimulatedPlatform.Load(platformDir, RepositoryPaths.EnclaveAppDirectory);
        using var signing = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var encryption = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        byte[] runtime = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["keys"] = new JsonArray(
                Jwk.FromEcPublic(encryption.ExportParameters(false), "enc", "enc").ToJsonObject(),
                Jwk.FromEcPublic(signing.ExportParameters(false), "sig", "sig").ToJsonObject()),
            ["nonce"] = Base64Url.Encode(RandomNumberGenerator.GetBytes(32)),
            ["round"] = "round-1",
            ["secagg"] = Jwk.FromEcPublic(agreement.ExportParameters(false), "secagg").ToJsonObject(),
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
