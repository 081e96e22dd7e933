using System.Net;
using System.Security.Cryptography;
using System.Text;
using Enclave.Crypto;
using Enclave.KeyBroker.Tests.Support;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker.Tests;

public sealed class VerifierKeySourceTests
{
    private const string Issuer = "https://verifier.test";

    [Fact]
    public async Task Fetches_issuer_certs_and_caches_them()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var handler = new StubHandler(_ => Json(new JwkSet([BrokerHarness.PublicSigningJwk(key)]).ToJson()));
        var time = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        var source = new HttpVerifierKeySource(new HttpClient(handler), time);

        JwkSet first = await source.GetKeysAsync(Issuer + "/", refresh: false);
        JwkSet second = await source.GetKeysAsync(Issuer, refresh: false);
        JwkSet refreshTooSoon = await source.GetKeysAsync(Issuer, refresh: true);
        time.Advance(TimeSpan.FromMinutes(1));
        await source.GetKeysAsync(Issuer, refresh: true);
        time.Advance(TimeSpan.FromMinutes(11));
        await source.GetKeysAsync(Issuer, refresh: false);

        Assert.Same(first, second);
        Assert.Same(first, refreshTooSoon);
        Assert.Equal(3, handler.Requests.Count);
        Assert.All(handler.Requests, uri => Assert.Equal("https://verifier.test/certs", uri.ToString()));
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError, "{}")]
    [InlineData(HttpStatusCode.OK, "not json")]
    [InlineData(HttpStatusCode.OK, "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}]}")]
    public async Task Failures_fail_closed(HttpStatusCode status, string body)
    {
        var source = new HttpVerifierKeySource(new HttpClient(new StubHandler(_ => new HttpResponseMessage(status) { Content = new StringContent(body) })));

        await Assert.ThrowsAsync<VerifierKeysUnavailableException>(() => source.GetKeysAsync(Issuer, refresh: false).AsTask());
    }

    [Fact]
    public async Task Oversized_key_set_is_refused()
    {
        string huge = "{\"keys\":[]," + new string(' ', HttpVerifierKeySource.MaxResponseBytes) + "}";
        var source = new HttpVerifierKeySource(new HttpClient(new StubHandler(_ => Json(huge))));

        await Assert.ThrowsAsync<VerifierKeysUnavailableException>(() => source.GetKeysAsync(Issuer, refresh: false).AsTask());
    }

    [Fact]
    public async Task Rotated_verifier_key_is_picked_up_through_one_refresh()
    {
        using var harness = new BrokerHarness();
        using var rotated = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Jwk rotatedJwk = BrokerHarness.PublicSigningJwk(rotated);
        int calls = 0;
        var handler = new StubHandler(_ => Json(new JwkSet(++calls == 1 ? [harness.VerifierJwk] : [harness.VerifierJwk, rotatedJwk]).ToJson()));
        var source = new HttpVerifierKeySource(new HttpClient(handler), harness.Time) { MinimumRefreshInterval = TimeSpan.Zero };
        using var nonces = NonceStore.CreateEphemeral(harness.Time);
        var validator = new TokenValidator(new TokenValidatorOptions { TrustedIssuers = [BrokerHarness.Issuer], Time = harness.Time }, source, nonces);

        TokenValidationResult old = await validator.ValidateAsync(harness.IssueToken(harness.Claims(nonces.Issue(TimeSpan.FromMinutes(1)))));
        TokenValidationResult renewed = await validator.ValidateAsync(harness.IssueToken(harness.Claims(nonces.Issue(TimeSpan.FromMinutes(1))), rotated));

        Assert.True(old.IsValid, old.Detail);
        Assert.True(renewed.IsValid, renewed.Detail);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task Unreachable_verifier_denies_release_as_keys_unavailable()
    {
        using var harness = new BrokerHarness();
        var source = new HttpVerifierKeySource(new HttpClient(new StubHandler(_ => throw new HttpRequestException("connection refused"))), harness.Time);
        using var nonces = NonceStore.CreateEphemeral(harness.Time);
        var validator = new TokenValidator(new TokenValidatorOptions { TrustedIssuers = [BrokerHarness.Issuer], Time = harness.Time }, source, nonces);

        TokenValidationResult result = await validator.ValidateAsync(harness.IssueToken(harness.Claims(nonces.Issue(TimeSpan.FromMinutes(1)))));

        Assert.Equal(ReasonCode.VerifierKeysUnavailable, result.Reason);
        Assert.Contains("unavailable", result.Detail, StringComparison.Ordinal);
    }

    private static HttpResponseMessage Json(string body) =>
        new(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    private sealed class StubHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
    {
        public List<Uri> Requests { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add(request.RequestUri!);
            return Task.FromResult(respond(request));
        }
    }
}
