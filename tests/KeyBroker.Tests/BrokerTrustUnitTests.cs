using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tests.Support;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker.Tests;

/// <summary>Pinned verifier keys, the rate limit on releases whose token does not validate, and manifest parsing,
/// in process. The attacks themselves, on real processes, are in tests/Integration/Broker*Tests.cs.</summary>
public sealed class BrokerTrustUnitTests
{
    [Fact]
    public async Task Garbage_token_releases_beyond_the_allowance_are_refused_and_counted_in_one_entry_per_caller_and_interval()
    {
        using var h = new BrokerHarness();
        h.RegisterDefaultKey();
        int before = h.Broker.Audit.ReadEntries().Count();

        ReleaseOutcome[] garbage = new ReleaseOutcome[50];
        for (int i = 0; i < garbage.Length; i++)
        {
            garbage[i] = await h.Broker.ReleaseAsync(new ReleaseKeyOptions(h.DefaultKeyId, "garbage\"<script>" + i) { Caller = "10.0.0.1" });
        }

        ReleaseOutcome honest = await h.Broker.ReleaseAsync(new ReleaseKeyOptions(h.DefaultKeyId, h.Token()) { Caller = "10.0.0.1" });
        ReleaseOutcome otherCaller = await h.Broker.ReleaseAsync(new ReleaseKeyOptions(h.DefaultKeyId, "garbage") { Caller = "10.0.0.2" });

        Assert.Equal(5, garbage.Count(o => !o.IsRateLimited && o.ReceiptId is not null));
        Assert.All(garbage.Skip(5), o => Assert.Equal(ReleaseOutcome.RateLimited, o.WireReason));
        Assert.All(garbage.Skip(5), o => Assert.Null(o.ReceiptId));
        Assert.True(honest.IsGranted, honest.Detail);
        Assert.False(otherCaller.IsRateLimited);
        Assert.Equal(before + 5 + 1 + 1, h.Broker.Audit.ReadEntries().Count());

        // Once the interval is over, the next unauthenticated release writes the summary of the refused ones.
        h.Time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        await h.Broker.ReleaseAsync(new ReleaseKeyOptions(h.DefaultKeyId, "garbage") { Caller = "10.0.0.3" });

        AuditEntry summary = Assert.Single(h.Broker.Audit.ReadEntries(), e => e.Kind == nameof(AuditEntryKind.ReleasesThrottled));
        JsonObject body = JsonNode.Parse(summary.Body)!.AsObject();
        Assert.Equal("10.0.0.1", body["caller"]!.GetValue<string>());
        Assert.Equal(45, body["refused"]!.GetValue<long>());
        Assert.Equal(45, body["reasons"]![nameof(ReasonCode.TokenInvalid)]!.GetValue<long>());
        Assert.DoesNotContain("script", summary.Body, StringComparison.Ordinal);
        Assert.True(h.Broker.VerifyAudit().IsValid);
    }

    [Fact]
    public async Task A_caller_that_stops_is_summarised_when_the_broker_is_disposed()
    {
        var h = new BrokerHarness();
        string directory = h.Directory.Path;
        for (int i = 0; i < 8; i++)
        {
            await h.Broker.ReleaseAsync(new ReleaseKeyOptions(h.DefaultKeyId, "garbage") { Caller = "192.0.2.7" });
        }

        h.Broker.Dispose();
        using var reopened = new KeyBrokerService(
            new KeyBrokerOptions { DataDirectory = directory, TrustedIssuers = [BrokerHarness.Issuer], SimulatedMode = true },
            h.VerifierKeys);
        AuditEntry summary = Assert.Single(reopened.Audit.ReadEntries(), e => e.Kind == nameof(AuditEntryKind.ReleasesThrottled));
        Assert.Equal(3, JsonNode.Parse(summary.Body)!["refused"]!.GetValue<long>());
        Assert.True(reopened.VerifyAudit().IsValid);
    }

    [Theory]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64")]
    [InlineData("::ffff:192.0.2.1", "192.0.2.1")]
    [InlineData("192.0.2.1", "192.0.2.1")]
    [InlineData("not an address", UnauthenticatedReleaseLimiter.OverflowCaller)]
    [InlineData(null, UnauthenticatedReleaseLimiter.OverflowCaller)]
    public void Callers_are_bucketed_by_address_and_ipv6_by_its_64_bit_prefix(string? caller, string bucket)
    {
        Assert.Equal(bucket, UnauthenticatedReleaseLimiter.Normalize(caller));
    }

    [Fact]
    public async Task Thumbprint_pinning_uses_only_pinned_keys_whatever_the_jwks_adds()
    {
        using var real = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Jwk realJwk = BrokerHarness.PublicSigningJwk(real);
        Jwk attackerJwk = BrokerHarness.PublicSigningJwk(attacker);
        var served = new StaticVerifierKeySource(BrokerHarness.Issuer, new JwkSet([realJwk, attackerJwk]));

        JwkSet used = await new ThumbprintPinnedKeySource(served, [realJwk.ComputeThumbprint()]).GetKeysAsync(BrokerHarness.Issuer, refresh: true);

        Jwk only = Assert.Single(used.Keys);
        Assert.True(only.HasSameKey(realJwk));
        Assert.Null(used.Find(attackerJwk.Kid!));
    }

    [Theory]
    [InlineData("http://verifier.example", true, "not on loopback")]
    [InlineData("http://127.0.0.1:8080", false, "--dev-allow-http-verifier")]
    [InlineData("http://10.0.0.1:8080", true, "not on loopback")]
    [InlineData("ftp://127.0.0.1", true, "https")]
    public void An_issuer_fetched_over_plaintext_is_refused_at_startup_unless_loopback_and_the_dev_switch(string issuer, bool allowHttp, string named)
    {
        VerifierPinningException e = Assert.Throws<VerifierPinningException>(() =>
            VerifierKeyPinning.CreateSource(Options(issuer, thumbprints: [new string('A', 43)], allowHttp: allowHttp)));

        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://verifier.example", false)]
    [InlineData("http://127.0.0.1:8080", true)]
    [InlineData("http://[::1]:8080", true)]
    [InlineData("http://localhost:8080", true)]
    public void Https_issuers_and_loopback_http_with_the_dev_switch_are_accepted(string issuer, bool allowHttp)
    {
        Assert.IsType<ThumbprintPinnedKeySource>(VerifierKeyPinning.CreateSource(Options(issuer, thumbprints: [new string('A', 43)], allowHttp: allowHttp)));
    }

    [Fact]
    public void Neither_both_nor_malformed_pins_start_a_broker()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var keys = new JwkSet([BrokerHarness.PublicSigningJwk(key)]);

        VerifierPinningException neither = Assert.Throws<VerifierPinningException>(() => VerifierKeyPinning.CreateSource(Options(BrokerHarness.Issuer)));
        VerifierPinningException both = Assert.Throws<VerifierPinningException>(() =>
            VerifierKeyPinning.CreateSource(Options(BrokerHarness.Issuer, keys, [keys.Keys[0].ComputeThumbprint()])));
        VerifierPinningException malformed = Assert.Throws<VerifierPinningException>(() =>
            VerifierKeyPinning.CreateSource(Options(BrokerHarness.Issuer, thumbprints: ["not-a-thumbprint"])));
        VerifierPinningException empty = Assert.Throws<VerifierPinningException>(() =>
            VerifierKeyPinning.CreateSource(Options(BrokerHarness.Issuer, new JwkSet([]))));

        Assert.Contains("--verifier-keys", neither.Message, StringComparison.Ordinal);
        Assert.Contains("--verifier-key-thumbprint", neither.Message, StringComparison.Ordinal);
        Assert.Contains("not both", both.Message, StringComparison.Ordinal);
        Assert.Contains("43 base64url", malformed.Message, StringComparison.Ordinal);
        Assert.Contains("names no key", empty.Message, StringComparison.Ordinal);
        Assert.IsType<StaticVerifierKeySource>(VerifierKeyPinning.CreateSource(Options("http://verifier.example", keys)));
    }

    [Fact]
    public async Task The_fetching_source_itself_refuses_plaintext_unless_allowed_on_loopback()
    {
        using var http = new HttpClient(new NoNetworkHandler());
        var strict = new HttpVerifierKeySource(http);
        var development = new HttpVerifierKeySource(http) { AllowHttpOnLoopback = true };

        VerifierKeysUnavailableException refused = await Assert.ThrowsAsync<VerifierKeysUnavailableException>(() =>
            strict.GetKeysAsync("http://127.0.0.1:1", refresh: false).AsTask());
        VerifierKeysUnavailableException remote = await Assert.ThrowsAsync<VerifierKeysUnavailableException>(() =>
            development.GetKeysAsync("http://verifier.example", refresh: false).AsTask());
        VerifierKeysUnavailableException attempted = await Assert.ThrowsAsync<VerifierKeysUnavailableException>(() =>
            development.GetKeysAsync("http://127.0.0.1:1", refresh: false).AsTask());

        Assert.Contains("not an https URL", refused.Message, StringComparison.Ordinal);
        Assert.Contains("not an https URL", remote.Message, StringComparison.Ordinal);
        Assert.Contains("no network", attempted.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":123}""", "type")]
    [InlineData("""{"type":"enclave-round-manifest/1"}""", "roundId")]
    [InlineData("""{"type":"enclave-round-manifest/1","roundId":7}""", "roundId")]
    [InlineData("""{"type":"enclave-round-manifest/1","roundId":""}""", "roundId")]
    [InlineData("""{"type":"enclave-round-manifest/1","roundId":"r\u0000"}""", "roundId")]
    [InlineData("""{"type":"enclave-round-manifest/1","type":"enclave-round-manifest/1","roundId":"r"}""", "duplicate")]
    [InlineData("""[1]""", "object")]
    [InlineData("""{"type":""", "JSON")]
    [InlineData("""{"type":"enclave-round-manifest/1","roundId":"r","note":"\uD800"}""", "JSON")]
    [InlineData("""{"type":"enclave-round-manifest/1","roundId":"\uDC00"}""", "JSON")]
    public void Malformed_manifests_are_refused_with_the_problem_named(string json, string named)
    {
        Assert.False(Transport.BrokerGrpcService.TryReadManifest(System.Text.Encoding.UTF8.GetBytes(json), out _, out _, out string problem));
        Assert.Contains(named, problem, StringComparison.Ordinal);
    }

    private static KeyBrokerOptions Options(string issuer, JwkSet? keys = null, string[]? thumbprints = null, bool allowHttp = false) => new()
    {
        DataDirectory = "/nonexistent",
        TrustedIssuers = [issuer],
        PinnedVerifierKeys = keys,
        VerifierKeyThumbprints = thumbprints ?? [],
        AllowHttpVerifierOnLoopback = allowHttp,
    };

    private sealed class NoNetworkHandler : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new HttpRequestException("no network in this test");
    }
}
