using System.Net;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.Testing;
using Grpc.Core;

namespace Enclave.Integration.Tests;

/// <summary>What the broker attack tests share: reading a broker's audit log from its data directory, checking it
/// with `enclave audit verify`, and reading a gRPC failure's reason code.</summary>
internal static class BrokerAttackSupport
{
    /// <summary>The audit entries of the broker whose data directory is <paramref name="dataDir"/> (SQLite).</summary>
    public static IReadOnlyList<AuditEntry> ReadAudit(string dataDir)
    {
        using IKeyBrokerStore store = new SqliteKeyBrokerStore(SqliteKeyBrokerStore.ConnectionStringFor(dataDir));
        using AuditSigningKey auditKey = AuditSigningKey.LoadOrCreate(Path.Combine(dataDir, AuditSigningKey.DefaultFileName));
        return [.. new AuditLog(store, auditKey, TimeProvider.System).ReadEntries()];
    }

    /// <summary>Runs `enclave audit verify` on the store and returns its entry count; fails the test unless it verifies.</summary>
    public static async Task<long> VerifyAuditAsync(string dataDir)
    {
        CliResult verify = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "audit", "verify", "--store", dataDir, "--json");
        Assert.True(verify.ExitCode == 0, verify.Output + verify.Error);
        JsonObject result = JsonNode.Parse(verify.Output)!.AsObject();
        Assert.True(result["verified"]!.GetValue<bool>(), verify.Output);
        return result["entries"]!.GetValue<long>();
    }

    public static string? ReasonCode(RpcException e) => e.Trailers.GetValue("reason-code");

    /// <summary>Writes <paramref name="keys"/> as a JWKS file and returns its path.</summary>
    public static string WriteJwks(TempDirectory directory, string name, JwkSet keys)
    {
        string path = directory.Combine(name);
        File.WriteAllText(path, keys.ToJson());
        return path;
    }
}

/// <summary>A plaintext HTTP proxy on loopback in front of a verifier, as a man in the middle would run it: every
/// GET is forwarded, and the JWKS at /certs comes back with one more key, the attacker's.</summary>
internal sealed class KeyAppendingProxy : IDisposable
{
    private readonly HttpListener _listener;
    private readonly HttpClient _upstream;
    private readonly Jwk _added;
    private readonly Task _serving;
    private int _certsRequests;

    public KeyAppendingProxy(Uri upstream, Jwk added)
    {
        _upstream = new HttpClient { BaseAddress = upstream };
        _added = added;

        (_listener, Issuer) = LoopbackHttpListener.Start();
        _serving = Task.Run(ServeAsync);
    }

    /// <summary>The proxy's URL, which the broker is told is the verifier's issuer.</summary>
    public string Issuer { get; }

    /// <summary>How many times /certs was fetched through the proxy.</summary>
    public int CertsRequests => Volatile.Read(ref _certsRequests);

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _upstream.Dispose();
        _ = _serving.ContinueWith(t => t.Exception, TaskScheduler.Default);
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                string path = context.Request.Url!.AbsolutePath;
                using HttpResponseMessage response = await _upstream.GetAsync(path);
                string body = await response.Content.ReadAsStringAsync();
                if (path == "/certs" && response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref _certsRequests);
                    body = new JwkSet([.. JwkSet.Parse(body).Keys, _added]).ToJson();
                }

                byte[] bytes = System.Text.Encoding.UTF8.GetBytes(body);
                context.Response.StatusCode = (int)response.StatusCode;
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(bytes);
            }
            catch (HttpRequestException)
            {
                context.Response.StatusCode = 502;
            }

            context.Response.Close();
        }
    }
}
