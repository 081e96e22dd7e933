using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.Testing;

namespace Enclave.Integration.Tests;

public sealed class VerifierHttpTests
{
    [Fact]
    public async Task TheVerifierPublishesOpenIdMetadataAndJwksAndRefusesMalformedEvidence()
    {
        using var directory = new TempDirectory("enclave-verifier");
        await using ServerProcess server = await ServerProcess.StartAsync("serve", "verifier", "--data-dir", directory.Path);
        string issuer = server.Ready.Http!.ToString().TrimEnd('/');
        Assert.Equal("verifier", server.Ready.Service);
        Assert.NotEqual(server.Ready.Grpc.Port, server.Ready.Http.Port);
        Assert.Contains("verifier serving: gRPC", await server.OutputContainingAsync("verifier serving: gRPC", TimeSpan.FromSeconds(10)), StringComparison.Ordinal);
        using var client = new HttpClient { BaseAddress = new Uri(issuer) };

        JsonObject metadata = (JsonObject)JsonNode.Parse(await client.GetStringAsync("/.well-known/openid-configuration"))!;
        Assert.Equal(issuer, metadata["issuer"]!.GetValue<string>());
        Assert.Equal(issuer + "/certs", metadata["jwks_uri"]!.GetValue<string>());

        JwkSet keys = JwkSet.Parse(await client.GetStringAsync("/certs"));
        Jwk key = Assert.Single(keys.Keys);
        Assert.Equal("EC", key.Kty);
        Assert.Equal("P-256", key.Crv);
        Assert.Equal(key.ComputeThumbprint(), key.Kid);

        string body = new JsonObject { ["evidence"] = Base64Url.Encode("not evidence"u8), ["runtimeData"] = new JsonObject { ["data"] = "e30", ["dataType"] = "Binary" } }.ToJsonString();
        HttpResponseMessage simulatedOff = await client.PostAsync("/attest/simulated", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, simulatedOff.StatusCode);

        HttpResponseMessage notJson = await client.PostAsync("/attest/simulated", new StringContent("{", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        JsonObject error = (JsonObject)JsonNode.Parse(await notJson.Content.ReadAsStringAsync())!;
        Assert.Equal("MalformedJson", error["error"]!["code"]!.GetValue<string>());
    }
}
