// TLS between the parties, with real processes: the CLI and the services trust only the deployment CA, check the
// server's name, refuse expired certificates, and the hosts and the coordinator refuse callers without a client
// certificate. Each refusal names the problem.
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Enclave.Cli.Commands;
using Enclave.Testing;

namespace Enclave.Integration.Tests;

public sealed class TlsTests : IDisposable
{
    private readonly TempDirectory _directory = new("enclave-tls");
    private readonly string _deployment;
    private readonly string _other;

    public TlsTests()
    {
        _deployment = _directory.Combine("deployment");
        _other = _directory.Combine("other");
        PkiCommands.InitAuthority(_deployment, "Deployment CA", TimeSpan.FromDays(60), DateTimeOffset.UtcNow.AddDays(-30));
        PkiCommands.InitAuthority(_other, "Some other CA", TimeSpan.FromDays(30));
        PkiCommands.Issue(_deployment, "verifier", ["localhost"], ["127.0.0.1"], _deployment, DateTimeOffset.UtcNow, TimeSpan.FromDays(1));
        PkiCommands.Issue(_deployment, "host", ["localhost"], ["127.0.0.1"], _deployment, DateTimeOffset.UtcNow, TimeSpan.FromDays(1));
        PkiCommands.Issue(_deployment, "elsewhere", ["verifier.elsewhere.example"], [], _deployment, DateTimeOffset.UtcNow, TimeSpan.FromDays(1));
        PkiCommands.Issue(_deployment, "expired", ["localhost"], ["127.0.0.1"], _deployment, DateTimeOffset.UtcNow.AddDays(-10), TimeSpan.FromDays(1));
        PkiCommands.Issue(_other, "stranger", ["localhost"], ["127.0.0.1"], _other, DateTimeOffset.UtcNow, TimeSpan.FromDays(1));
    }

    private string Ca => Path.Combine(_deployment, PkiCommands.CaCertificateFile);

    [Fact]
    public async Task AServiceWithACertificateOfAnotherCaIsRefused()
    {
        // A real verifier, configured by someone else's PKI.
        await using ServerProcess stranger = await ServerProcess.StartAsync("serve", "verifier", "--data-dir", _directory.Combine("stranger-data"),
            "--tls-cert", Path.Combine(_other, "stranger.crt"), "--tls-key", Path.Combine(_other, "stranger.key"), "--tls-ca", Path.Combine(_other, PkiCommands.CaCertificateFile));
        Assert.Equal("https", stranger.Ready.Grpc.Scheme);
        CliResult result = await Enroll(stranger.Ready.Grpc);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("not issued by the deployment CA", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AServerWhoseNameDoesNotMatchIsRefused()
    {
        using var server = new TlsStandIn(Path.Combine(_deployment, "elsewhere.crt"), Path.Combine(_deployment, "elsewhere.key"));
        CliResult result = await Enroll(server.Url);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("does not name the host", result.Error, StringComparison.Ordinal);
        Assert.Contains("RemoteCertificateNameMismatch", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnExpiredCertificateIsRefusedByTheClientAndByTheServiceThatWouldServeIt()
    {
        using var server = new TlsStandIn(Path.Combine(_deployment, "expired.crt"), Path.Combine(_deployment, "expired.key"));
        CliResult result = await Enroll(server.Url);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("NotTimeValid", result.Error, StringComparison.Ordinal);

        CliResult start = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "serve", "verifier", "--data-dir", _directory.Combine("expired-data"),
            "--tls-cert", Path.Combine(_deployment, "expired.crt"), "--tls-key", Path.Combine(_deployment, "expired.key"), "--tls-ca", Ca);
        Assert.Equal(2, start.ExitCode);
        Assert.Contains("NotTimeValid", start.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHostRefusesACallerWithoutAClientCertificateAndAdmitsOneWithIt()
    {
        await using ServerProcess host = await ServerProcess.StartAsync("serve", "host", "--region", "eu-west",
            "--data-dir", _directory.Combine("data"), "--enclave-dir", _directory.Combine("no-image"), "--platform-dir", _directory.Combine("no-platform"),
            "--verifier", "https://127.0.0.1:1", "--broker", "https://127.0.0.1:2",
            "--tls-cert", Path.Combine(_deployment, "host.crt"), "--tls-key", Path.Combine(_deployment, "host.key"), "--tls-ca", Ca);

        CliResult anonymous = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "key", "probe", "--host", host.Ready.Grpc.ToString(), "--name", "owner/key", "--tls-ca", Ca);
        Assert.Equal(2, anonymous.ExitCode);
        Assert.Contains("TLS with the service failed", anonymous.Error, StringComparison.Ordinal);
        Assert.Contains("requires a client certificate", anonymous.Error, StringComparison.Ordinal);

        // With a client certificate of the deployment CA the host admits the call (and answers that it has no image).
        CliResult admitted = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "key", "probe", "--host", host.Ready.Grpc.ToString(), "--name", "owner/key",
            "--tls-ca", Ca, "--tls-cert", Path.Combine(_deployment, "verifier.crt"), "--tls-key", Path.Combine(_deployment, "verifier.key"));
        Assert.Equal(2, admitted.ExitCode);
        Assert.Contains("no enclave build", admitted.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CleartextIsOnlyForDevelopmentOnLoopbackAndTlsIsTheDefault()
    {
        CliResult none = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "serve", "verifier", "--data-dir", _directory.Combine("v1"));
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("TLS is on by default", none.Error, StringComparison.Ordinal);

        CliResult wildcard = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "serve", "verifier", "--data-dir", _directory.Combine("v2"), "--listen", "0.0.0.0", "--dev-cleartext");
        Assert.Equal(2, wildcard.ExitCode);
        Assert.Contains("only allowed on a loopback", wildcard.Error, StringComparison.Ordinal);

        // A broker told to fetch verifier keys from an http issuer, without the development switch, does not start.
        CliResult http = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "serve", "broker", "--data-dir", _directory.Combine("b"), "--simulated",
            "--verifier-issuer", "http://127.0.0.1:1", "--verifier-key-thumbprint", new string('A', 43),
            "--tls-cert", Path.Combine(_deployment, "verifier.crt"), "--tls-key", Path.Combine(_deployment, "verifier.key"), "--tls-ca", Ca);
        Assert.Equal(2, http.ExitCode);
        Assert.Contains("http", http.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnHttpPortGivenWhereAGrpcEndpointIsExpectedIsNamedAsSuch()
    {
        await using ServerProcess verifier = await ServerProcess.StartAsync("serve", "verifier", "--data-dir", _directory.Combine("http-port"));
        CliResult result = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "node", "enroll", "--verifier", verifier.Ready.Http!.ToString(),
            "--key", TeamKey(), "--platform-id", new string('a', 64), "--region", "eu-west");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("serves HTTP/1.1 (a service's HTTP port), not gRPC", result.Error, StringComparison.Ordinal);
    }

    private string TeamKey()
    {
        string key = _directory.Combine("team.key");
        if (!File.Exists(key))
        {
            KeyFiles.CreateSigningKey(key, key + ".jwk").Dispose();
        }

        return key;
    }

    private Task<CliResult> Enroll(Uri verifier) =>
        CliRunner.RunAsync(TimeSpan.FromMinutes(1), "node", "enroll", "--verifier", verifier.ToString(), "--key", TeamKey(),
            "--platform-id", new string('a', 64), "--region", "eu-west", "--tls-ca", Ca);

    public void Dispose() => _directory.Dispose();

    /// <summary>A TLS server on loopback presenting a given certificate, for the client-side refusals.</summary>
    private sealed class TlsStandIn : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly X509Certificate2 _certificate;
        private readonly CancellationTokenSource _stop = new();

        public TlsStandIn(string certificate, string key)
        {
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificate, key);
            _certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            _listener.Start();
            Url = new Uri($"https://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
            _ = Task.Run(ServeAsync);
        }

        public Uri Url { get; }

        private async Task ServeAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    using TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    using var tls = new SslStream(client.GetStream());
                    await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                    {
                        ServerCertificate = _certificate,
                        ApplicationProtocols = [SslApplicationProtocol.Http2],
                    }, _stop.Token);
                }
                catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or SocketException)
                {
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Stop();
            _certificate.Dispose();
        }
    }
}
