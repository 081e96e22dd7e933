// The broker pins its verifiers' signing keys (docs/design.md, "What each party pins"): either the keys themselves
// (files given by the operator; nothing is fetched) or their RFC 7638 thumbprints (the JWKS is fetched from
// {issuer}/certs over https, and only keys whose computed thumbprint is pinned are ever used). A link the broker
// cannot authenticate therefore never decides which keys it trusts: a man in the middle who appends his own key
// to /certs gains nothing, and a plaintext issuer is refused unless a development switch allows it on loopback.
using Enclave.Crypto;

namespace Enclave.KeyBroker.Tokens;

/// <summary>The verifier trust configuration is unusable; the message names the option at fault.</summary>
public sealed class VerifierPinningException : Exception
{
    public VerifierPinningException(string message)
        : base(message)
    {
    }
}

public static class VerifierKeyPinning
{
    /// <summary>The key source the options pin: <see cref="KeyBrokerOptions.PinnedVerifierKeys"/> for every trusted
    /// issuer, or <see cref="KeyBrokerOptions.VerifierKeyThumbprints"/> over a fetch from <c>{issuer}/certs</c>.</summary>
    /// <param name="http">The client for thumbprint mode (its handler decides TLS policy); null makes one.</param>
    /// <exception cref="VerifierPinningException">Neither or both are pinned, a thumbprint is malformed, or an
    /// issuer would be fetched over plaintext without the loopback development switch.</exception>
    public static IVerifierKeySource CreateSource(KeyBrokerOptions options, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool files = options.PinnedVerifierKeys is not null;
        bool thumbprints = options.VerifierKeyThumbprints.Count > 0;
        if (files == thumbprints)
        {
            throw new VerifierPinningException(files
                ? "pin the verifier's keys one way: --verifier-keys FILE or --verifier-key-thumbprint T, not both"
                : "the verifier's signing keys must be pinned: give --verifier-keys FILE (a JWKS or public JWK) or --verifier-key-thumbprint T (RFC 7638, base64url)");
        }

        if (files)
        {
            if (options.PinnedVerifierKeys!.Keys.Count == 0)
            {
                throw new VerifierPinningException("--verifier-keys names no key");
            }

            return new StaticVerifierKeySource(options.TrustedIssuers.Select(i => new KeyValuePair<string, JwkSet>(i, options.PinnedVerifierKeys)));
        }

        foreach (string thumbprint in options.VerifierKeyThumbprints)
        {
            if (!IsThumbprint(thumbprint))
            {
                throw new VerifierPinningException("--verifier-key-thumbprint must be an RFC 7638 SHA-256 thumbprint: 43 base64url characters");
            }
        }

        foreach (string issuer in options.TrustedIssuers)
        {
            CheckFetchable(issuer, options.AllowHttpVerifierOnLoopback);
        }

        var fetch = new HttpVerifierKeySource(http ?? new HttpClient(), options.Time) { AllowHttpOnLoopback = options.AllowHttpVerifierOnLoopback };
        return new ThumbprintPinnedKeySource(fetch, options.VerifierKeyThumbprints);
    }

    /// <summary>Refuses an issuer whose keys would come over a link the broker cannot authenticate.</summary>
    /// <exception cref="VerifierPinningException">Not https, and not (http, loopback, development switch).</exception>
    public static void CheckFetchable(string issuer, bool allowHttpOnLoopback)
    {
        if (!Uri.TryCreate(issuer, UriKind.Absolute, out Uri? uri))
        {
            throw new VerifierPinningException($"--verifier-issuer \"{issuer}\" is not an absolute URL");
        }

        if (uri.Scheme == Uri.UriSchemeHttps)
        {
            return;
        }

        if (uri.Scheme != Uri.UriSchemeHttp)
        {
            throw new VerifierPinningException($"--verifier-issuer \"{issuer}\" must be an https URL");
        }

        if (!allowHttpOnLoopback)
        {
            throw new VerifierPinningException(
                $"--verifier-issuer \"{issuer}\" is plain http: its JWKS could be changed on the way; use https, pin the keys with --verifier-keys, or (development, loopback only) --dev-allow-http-verifier");
        }

        if (!IsLoopback(uri))
        {
            throw new VerifierPinningException(
                $"--verifier-issuer \"{issuer}\" is plain http and not on loopback; --dev-allow-http-verifier allows http only to a loopback host");
        }
    }

    /// <summary>127.0.0.0/8, ::1 or localhost.</summary>
    internal static bool IsLoopback(Uri uri) => uri.IsLoopback;

    private static bool IsThumbprint(string text) =>
        text.Length == Keys.KeyId.ThumbprintLength && Base64Url.TryDecode(text, out byte[] bytes) && bytes.Length == 32;
}

/// <summary>Fetched keys filtered to those whose RFC 7638 thumbprint (computed from the key, never its kid) is
/// pinned. Anything else the JWKS holds is ignored, so a token signed by an unpinned key finds no key.</summary>
public sealed class ThumbprintPinnedKeySource : IVerifierKeySource
{
    private readonly IVerifierKeySource _inner;
    private readonly HashSet<string> _pinned;

    public ThumbprintPinnedKeySource(IVerifierKeySource inner, IEnumerable<string> thumbprints)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(thumbprints);
        _inner = inner;
        _pinned = new HashSet<string>(thumbprints, StringComparer.Ordinal);
    }

    public async ValueTask<JwkSet> GetKeysAsync(string issuer, bool refresh, CancellationToken cancellationToken = default)
    {
        JwkSet fetched = await _inner.GetKeysAsync(issuer, refresh, cancellationToken).ConfigureAwait(false);
        return new JwkSet(fetched.Keys.Where(k => _pinned.Contains(k.ComputeThumbprint())));
    }
}
