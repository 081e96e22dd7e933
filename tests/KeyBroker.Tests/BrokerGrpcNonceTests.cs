using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Tests.Support;
using Enclave.KeyBroker.Transport;
using Enclave.Hosting;
using Enclave.Protocol;
using Enclave.Protocol.Broker;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.KeyBroker.Tests;

/// <summary>Every release answer carries a fresh nonce for the caller's next attestation (grants in the response,
/// denials in the "next-nonce" trailer); it is an ordinary broker nonce, accepted once and only once.</summary>
public sealed class BrokerGrpcNonceTests : IAsyncLifetime
{
    private readonly BrokerHarness _h = new();
    private WebApplication? _app;
    private GrpcChannel? _channel;
    private byte[] _dataKey = [];

    private Protocol.Broker.KeyBroker.KeyBrokerClient Client => new(_channel!);

    public async Task InitializeAsync()
    {
        _dataKey = _h.RegisterDefaultKey();
        _app = BrokerServer.Build(_h.Broker, [], grpcPort: 0, httpPort: 0, logging: l => l.ClearProviders());
        await _app.StartAsync();
        _channel = GrpcChannel.ForAddress(_app.Services.GetRequiredService<ServiceEndpoints>().Grpc.Url);
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _h.Dispose();
    }

    [Fact]
    public async Task A_grant_hands_back_a_nonce_that_releases_once_and_a_replay_hands_back_another()
    {
        GetNonceResponse first = await Client.GetNonceAsync(new GetNonceRequest());
        ReleaseKeyResponse granted = await Release(first.Nonce);
        Assert.Equal(_dataKey, Jwe.Decrypt(granted.WrappedKey, _h.EnclaveEncryptionKey));

        GetNonceResponse next = granted.NextNonce;
        Assert.NotNull(next);
        Assert.NotEqual(first.Nonce, next.Nonce);
        Assert.Equal(_h.Broker.IssueNonce().ExpiresAt.ToUnixTimeSeconds(), next.ExpiresUnixSeconds);

        // The handed-back nonce is as good as one from GetNonce, and as single-use.
        ReleaseKeyResponse chained = await Release(next.Nonce);
        Assert.Equal(_dataKey, Jwe.Decrypt(chained.WrappedKey, _h.EnclaveEncryptionKey));
        RpcException replayed = await Assert.ThrowsAsync<RpcException>(() => Release(next.Nonce));
        Assert.Equal(StatusCode.PermissionDenied, replayed.StatusCode);
        AuditEntry denial = _h.Broker.Audit.ReadEntries().Last();
        Assert.Equal("ReleaseDenied", denial.Kind);
        Assert.Contains("NonceReplayed", denial.Body, StringComparison.Ordinal);

        // The denial carries a fresh nonce too, and it works.
        string? afterDenial = replayed.Trailers.GetValue(BrokerGrpcService.NextNonceTrailer);
        Assert.NotNull(afterDenial);
        Assert.NotEqual(next.Nonce, afterDenial);
        ReleaseKeyResponse again = await Release(afterDenial!);
        Assert.NotEqual(chained.NextNonce.Nonce, again.NextNonce.Nonce);
    }

    private async Task<ReleaseKeyResponse> Release(string nonce) =>
        await Client.ReleaseKeyAsync(new ReleaseKeyRequest { KeyName = _h.DefaultKeyId, AttestationToken = _h.IssueToken(_h.Claims(nonce)) });
}
