using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Tests.Support;
using Enclave.KeyBroker.Transport;
using Enclave.Hosting;
using Enclave.Protocol;
using Enclave.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.KeyBroker.Tests;

/// <summary>The broker's HTTP/1 release endpoint in the Key Vault shape, over loopback with HttpClient.</summary>
public sealed class KeyVaultHttpTests : IAsyncLifetime
{
    private readonly BrokerHarness _h = new();
    private WebApplication? _app;
    private HttpClient? _client;
    private byte[] _dataKey = [];

    private HttpClient Client => _client!;

    /// <summary>The owner part of the harness's key ids.</summary>
    private string Owner => _h.DefaultKeyId[..KeyId.ThumbprintLength];

    public async Task InitializeAsync()
    {
        _dataKey = _h.RegisterDefaultKey();
        _app = BrokerServer.Build(_h.Broker, [], grpcPort: 0, httpPort: 0, logging: l => l.ClearProviders());
        await _app.StartAsync();
        _client = new HttpClient { BaseAddress = _app.Services.GetRequiredService<ServiceEndpoints>().Http!.Url };
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _h.Dispose();
    }

    [Theory]
    [InlineData("release")]
    [InlineData("latest/release")]
    [InlineData("1/release")]
    public async Task Release_answers_value_with_a_jwe_for_the_enclave(string suffix)
    {
        string path = $"/keys/{_h.DefaultKeyId}/{suffix}";
        JsonObject claims = _h.Claims(_h.Broker.IssueNonce().Value);
        string token = _h.IssueToken(claims);

        HttpResponseMessage response = await Post(path, new JsonObject
        {
            ["target"] = token,
            ["nonce"] = claims["nonce"]!.GetValue<string>(),
            ["enc"] = "ECDH-ES+A256KW",
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonObject body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.Equal(["value"], body.Select(p => p.Key));
        Assert.Equal(_dataKey, Jwe.Decrypt(body["value"]!.GetValue<string>(), _h.EnclaveEncryptionKey));
        Assert.Equal("1", Assert.Single(response.Headers.GetValues(KeyVaultReleaseEndpoint.KeyVersionHeader)));
        string receipt = Assert.Single(response.Headers.GetValues(KeyVaultReleaseEndpoint.ReceiptHeader));
        Assert.Equal("ReleaseGranted", _h.Broker.Audit.ReadEntries().Single(e => e.Id == receipt).Kind);
    }

    [Fact]
    public async Task Unknown_key_other_version_and_policy_mismatch_look_the_same()
    {
        (HttpStatusCode Status, string Code) unknown = await Error(await Post($"/keys/{Owner}/no-such-key/release", Body(_h.Token())));
        (HttpStatusCode Status, string Code) otherVersion = await Error(await Post($"/keys/{_h.DefaultKeyId}/7/release", Body(_h.Token())));
        (HttpStatusCode Status, string Code) mismatch = await Error(await Post($"/keys/{_h.DefaultKeyId}/release", Body(_h.Token(c => c["x-enclave-region"] = "us-east"))));
        (HttpStatusCode Status, string Code) traversal = await Error(await Post($"/keys/{Owner}/..%2Ffashion-eu/release", Body(_h.Token())));

        Assert.Equal((HttpStatusCode.Forbidden, ReleaseOutcome.CoarseDenial), unknown);
        Assert.Equal(unknown, otherVersion);
        Assert.Equal(unknown, mismatch);
        Assert.Equal(unknown, traversal);
    }

    [Fact]
    public async Task Token_stage_failures_are_unauthorized_with_their_reason()
    {
        Assert.Equal((HttpStatusCode.Unauthorized, "AlgorithmNotAllowed"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", Body(TokenAttacks.AlgNone(_h)))));
        Assert.Equal((HttpStatusCode.Unauthorized, "SignatureScalarInvalid"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", Body(TokenAttacks.ZeroSignature(_h.Token())))));
        string token = _h.Token();
        Assert.Equal((HttpStatusCode.Unauthorized, "NonceMismatch"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", Body(token, nonce: "another-nonce"))));
        Assert.Equal((HttpStatusCode.Unauthorized, "NoEncryptionKey"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", Body(_h.Token(), enc: "RSA-OAEP-256"))));
        string stale = _h.Token();
        _h.Time.Advance(TimeSpan.FromMinutes(15));
        Assert.Equal((HttpStatusCode.Unauthorized, "TokenExpired"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", Body(stale))));
    }

    [Fact]
    public async Task Malformed_requests_are_bad_requests()
    {
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Client.PostAsync($"/keys/{_h.DefaultKeyId}/release", Json("{"))));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Client.PostAsync($"/keys/{_h.DefaultKeyId}/release", Json("[]"))));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", new JsonObject { ["nonce"] = "n" })));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", new JsonObject { ["target"] = 5 })));
        string token = _h.Token();
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Client.PostAsync($"/keys/{_h.DefaultKeyId}/release",
            Json($$"""{"target":"{{token}}","target":"{{token}}"}"""))));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Client.PostAsync($"/keys/{_h.DefaultKeyId}/release",
            Json("{\"target\":\"" + token + "\",\"x\":{\"y\":1,\"y\":2}}"))));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Client.PostAsync($"/keys/{_h.DefaultKeyId}/release",
            Json("{\"target\":\"" + token + "\",\"x\":" + new string('[', 20) + new string(']', 20) + "}"))));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", new JsonObject { ["target"] = token, ["nonce"] = 5 })));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", new JsonObject { ["target"] = token, ["enc"] = new JsonArray() })));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Client.PostAsync($"/keys/{_h.DefaultKeyId}/release", Json("null"))));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Post($"/keys/{_h.DefaultKeyId}/abc/release", Body(_h.Token()))));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Post($"/keys/{_h.DefaultKeyId}/0/release", Body(_h.Token()))));
        Assert.Equal((HttpStatusCode.BadRequest, "UnsupportedAlgorithm"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", Body(_h.Token(), enc: "CKM_RSA_AES_KEY_WRAP"))));
        Assert.Equal((HttpStatusCode.BadRequest, "BadParameter"), await Error(await Post($"/keys/{_h.DefaultKeyId}/release", Body(_h.Token(), enc: "dir"))));
        string huge = new JsonObject { ["target"] = new string('a', 200 * 1024) }.ToJsonString();
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await Client.PostAsync($"/keys/{_h.DefaultKeyId}/release", Json(huge))).StatusCode);
        Assert.DoesNotContain(_h.Broker.Audit.ReadEntries(), e => e.Kind == "ReleaseGranted");
    }

    private static JsonObject Body(string token, string? nonce = null, string? enc = null)
    {
        var body = new JsonObject { ["target"] = token };
        if (nonce is not null)
        {
            body["nonce"] = nonce;
        }

        if (enc is not null)
        {
            body["enc"] = enc;
        }

        return body;
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private Task<HttpResponseMessage> Post(string path, JsonObject body) => Client.PostAsync(path, Json(body.ToJsonString()));

    private static async Task<(HttpStatusCode, string)> Error(HttpResponseMessage response)
    {
        JsonObject body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        Assert.False(string.IsNullOrEmpty(body["error"]!["message"]!.GetValue<string>()));
        return (response.StatusCode, body["error"]!["code"]!.GetValue<string>());
    }
}
