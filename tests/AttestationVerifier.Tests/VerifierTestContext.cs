using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Nodes;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Tests;

/// <summary>
/// A temporary directory with a simulated root, one platform certified by it, a security-team key and verifier
/// options that trust them, all at a fixed instant.
/// </summary>
internal sealed class VerifierTestContext : IDisposable
{
    public const string Issuer = "https://verifier.test:5443";
    public const string Region = "eu-west-1";

    public static readonly DateTimeOffset Start = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private readonly List<IDisposable> _owned = [];

    public VerifierTestContext()
    {
        Directory = Path.Combine(Path.GetTempPath(), "enclave-verifier-tests", Guid.NewGuid().ToString("n"));
        System.IO.Directory.CreateDirectory(Directory);
        Time = new ManualTimeProvider(Start);
        SimulatedPlatformAuthority.CreateRoot(RootDirectory, Time);
        PlatformId = SimulatedPlatformAuthority.CreatePlatform(RootDirectory, PlatformDirectory, Time);
        Root = Own(SimulatedRoot.LoadFile(Path.Combine(RootDirectory, SimulatedPlatformAuthority.RootCertificateFileName)));
        PlatformKey = Own(SimulatedPlatformAuthority.LoadPrivateKey(Path.Combine(PlatformDirectory, SimulatedPlatformAuthority.PlatformKeyFileName)));
        using (X509Certificate2 certificate = SimulatedPlatformAuthority.LoadCertificate(Path.Combine(PlatformDirectory, SimulatedPlatformAuthority.PlatformCertificateFileName)))
        {
            PlatformCertificate = certificate.RawData;
        }

        SecurityTeamKey = Own(ECDsa.Create(ECCurve.NamedCurves.nistP256));
        SecurityTeamJwk = Jwk.FromEcPublic(SecurityTeamKey.ExportParameters(false), EnrollmentRequest.KeyThumbprint(SecurityTeamKey), "sig");
    }

    public string Directory { get; }

    public string RootDirectory => Path.Combine(Directory, "root");

    public string PlatformDirectory => Path.Combine(Directory, "platform");

    public string DataDirectory => Path.Combine(Directory, "data");

    public ManualTimeProvider Time { get; }

    public SimulatedRoot Root { get; }

    public ECDsa PlatformKey { get; }

    public byte[] PlatformCertificate { get; }

    public string PlatformId { get; }

    public ECDsa SecurityTeamKey { get; }

    public Jwk SecurityTeamJwk { get; }

    public VerifierOptions CreateOptions(bool allowSimulated = true)
    {
        VerifierOptions options = new(Issuer, DataDirectory)
        {
            AllowSimulated = allowSimulated,
            SimulatedRoot = Root,
        };
        options.EnrollmentKeys.Add(SecurityTeamJwk);
        return options;
    }

    public AttestationService CreateService(CapturingLogger? logger = null, Action<VerifierOptions>? configure = null, bool allowSimulated = true)
    {
        VerifierOptions options = CreateOptions(allowSimulated);
        configure?.Invoke(options);
        return Own(new AttestationService(options, logger, Time));
    }

    public SimulatedEvidenceBuilder Evidence(byte[] runtimeData) =>
        new SimulatedEvidenceBuilder(PlatformKey, PlatformCertificate).ForRuntimeData(runtimeData);

    public void Enroll(AttestationService service, string region = Region)
    {
        EnrollmentOutcome outcome = service.Enroll(EnrollmentRequest.Create(SecurityTeamKey, PlatformId, region, timeProvider: Time));
        Assert.True(outcome.Succeeded, outcome.Message);
    }

    public T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open elsewhere only leaves a stale temporary directory behind.
        }
    }
}
