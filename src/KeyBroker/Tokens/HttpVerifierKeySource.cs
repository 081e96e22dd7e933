using System.Net.Http.Headers;
using System.Text;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Tokens;

/// <summary>Fetches <c>{issuer}/certs</c> (the verifier's JWKS) over HTTP and caches it. A cached set is
/// used until <see cref="CacheLifetime"/> passes; a refresh requested for an unknown kid is honoured at
/// most once per <see cref="MinimumRefreshInterval"/> so tokens with invented kids cannot make the broker
/// hammer the verifier. When the cache has expired and the fetch fails, the call fails (fail closed). Only https
/// is fetched from, or plain http to a loopback host with <see cref="AllowHttpOnLoopback"/>. Whatever comes back
/// is trusted as is, so the broker wraps this in <see cref="ThumbprintPinnedKeySource"/>.</summary>
public sealed class HttpVerifierKeySource : IVerifierKeySource
{
    public const int MaxResponseBytes = 256 * 1024;

    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, CacheEntry> _cache = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <param name="http">The client to use (its handler decides TLS policy and proxies).</param>
    public HttpVerifierKeySource(HttpClient http, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        _http = http;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Development only: fetch from http:// issuers whose host is loopback.</summary>
    public bool AllowHttpOnLoopback { get; init; }

    public TimeSpan CacheLifetime { get; init; } = TimeSpan.FromMinutes(10);

    public TimeSpan MinimumRefreshInterval { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public async ValueTask<JwkSet> GetKeysAsync(string issuer, bool refresh, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(issuer);
        string key = StaticVerifierKeySource.Normalize(issuer);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            DateTimeOffset now = _time.GetUtcNow();
            if (_cache.TryGetValue(key, out CacheEntry? cached))
            {
                bool fresh = now - cached.FetchedAt < CacheLifetime;
                bool refreshAllowed = now - cached.FetchedAt >= MinimumRefreshInterval;
                if (fresh && (!refresh || !refreshAllowed))
                {
                    return cached.Keys;
                }
            }

            JwkSet keys = await FetchAsync(key, cancellationToken).ConfigureAwait(false);
            _cache[key] = new CacheEntry(keys, now);
            return keys;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<JwkSet> FetchAsync(string issuer, CancellationToken cancellationToken)
    {
        if (!Uri.TryCreate(issuer + "/certs", UriKind.Absolute, out Uri? uri)
            || !(uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && AllowHttpOnLoopback && VerifierKeyPinning.IsLoopback(uri))))
        {
            throw new VerifierKeysUnavailableException($"The issuer \"{issuer}\" is not an https URL (plain http only to loopback, in development).");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using HttpResponseMessage response = await _http
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token)
                .ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new VerifierKeysUnavailableException($"GET {uri} returned {(int)response.StatusCode}.");
            }

            if (response.Content.Headers.ContentLength > MaxResponseBytes)
            {
                throw new VerifierKeysUnavailableException($"The JWKS at {uri} is larger than {MaxResponseBytes} bytes.");
            }

            using Stream stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            byte[] buffer = new byte[MaxResponseBytes + 1];
            int total = 0;
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(total), timeout.Token).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > MaxResponseBytes)
                {
                    throw new VerifierKeysUnavailableException($"The JWKS at {uri} is larger than {MaxResponseBytes} bytes.");
                }
            }

            return JwkSet.Parse(Encoding.UTF8.GetString(buffer, 0, total));
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new VerifierKeysUnavailableException($"GET {uri} timed out.", e);
        }
        catch (HttpRequestException e)
        {
            throw new VerifierKeysUnavailableException($"GET {uri} failed: {e.Message}", e);
        }
        catch (JoseException e)
        {
            throw new VerifierKeysUnavailableException($"The JWKS at {uri} is not valid: {e.Message}", e);
        }
    }

    private sealed record CacheEntry(JwkSet Keys, DateTimeOffset FetchedAt);
}
