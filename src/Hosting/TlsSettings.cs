// TLS for every link between the product's parties. Each party holds a certificate and key issued by the
// deployment CA (or brought from the operator's own PKI as PEM files) and trusts only that CA: as a server it
// presents its certificate, as a client it checks the server's chain against the CA — never the system store —
// and the server's name against the URL it dialled, and presents its own certificate where the server asks
// for one (hosts and the coordinator authenticate each other this way). TLS 1.3 is preferred, 1.2 the floor.
// Cleartext exists only behind an explicit development switch on a loopback address (see CleartextAllowed).
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.Hosting;

/// <summary>A party's TLS identity and the authority it trusts.</summary>
public sealed class TlsSettings : IDisposable
{
    public const SslProtocols Protocols = SslProtocols.Tls13 | SslProtocols.Tls12;

    private TlsSettings(X509Certificate2? certificate, X509Certificate2Collection authority)
    {
        Certificate = certificate;
        Authority = authority;
    }

    /// <summary>This party's certificate, with its private key; null for a client with no identity of its own
    /// (a data owner's or auditor's tool), which can reach only services that require no client certificate.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>The deployment CA's certificates: the only roots this party trusts for TLS.</summary>
    public X509Certificate2Collection Authority { get; }

    /// <summary>Loads a certificate and its key (PEM) and the CA certificates (PEM) it trusts.</summary>
    /// <exception cref="TlsConfigurationException">A file is missing or not a PEM certificate or key, the key does
    /// not match the certificate, or the certificate is not issued by one of the CA certificates.</exception>
    public static TlsSettings Load(string certificatePath, string keyPath, string authorityPath)
    {
        X509Certificate2Collection authority = LoadAuthority(authorityPath);
        X509Certificate2 certificate;
        try
        {
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            // A PEM-loaded key is ephemeral; SslStream on some platforms needs it in a PKCS#12 form.
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new TlsConfigurationException($"--tls-cert {certificatePath} with --tls-key {keyPath}: {ex.Message}");
        }

        string? problem = ValidateChain(certificate, authority, out _);
        if (problem is not null)
        {
            certificate.Dispose();
            throw new TlsConfigurationException($"--tls-cert {certificatePath} does not chain to --tls-ca {authorityPath}: {problem}");
        }

        return new TlsSettings(certificate, authority);
    }

    /// <summary>Trust in the CA only, for a client that presents no certificate.</summary>
    /// <exception cref="TlsConfigurationException">The file is missing or holds no certificate.</exception>
    public static TlsSettings ForClient(string authorityPath) => new(null, LoadAuthority(authorityPath));

    /// <summary>The CA certificates in a PEM file.</summary>
    /// <exception cref="TlsConfigurationException">The file is missing or holds no certificate.</exception>
    public static X509Certificate2Collection LoadAuthority(string authorityPath)
    {
        var authority = new X509Certificate2Collection();
        try
        {
            authority.ImportFromPemFile(authorityPath);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new TlsConfigurationException($"--tls-ca {authorityPath}: {ex.Message}");
        }

        if (authority.Count == 0)
        {
            throw new TlsConfigurationException($"--tls-ca {authorityPath} holds no certificate");
        }

        return authority;
    }

    /// <summary>True for an address cleartext may be served on (with the development switch): loopback only.</summary>
    public static bool CleartextAllowed(string listenAddress) =>
        IPAddress.TryParse(listenAddress, out IPAddress? ip) ? IPAddress.IsLoopback(ip) : listenAddress == "localhost";

    /// <summary>The chain policy a client uses for servers and a server for clients: the deployment CA only.</summary>
    public X509ChainPolicy ChainPolicy() => ChainPolicyFor(Authority);

    /// <summary>A handler for HTTP and gRPC clients of this party: the server's chain is checked against the CA,
    /// its name against the URL's host, and this party's certificate is presented when the server asks.</summary>
    public SocketsHttpHandler CreateHandler(bool presentCertificate = true)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                EnabledSslProtocols = Protocols,
                CertificateChainPolicy = ChainPolicy(),
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            },
            EnableMultipleHttp2Connections = true,
        };
        if (presentCertificate && Certificate is not null)
        {
            handler.SslOptions.ClientCertificates = [Certificate];
        }

        return handler;
    }

    /// <summary>Checks a peer's certificate against the CA; null when it chains, else what is wrong.</summary>
    public string? ValidatePeer(X509Certificate2 certificate) => ValidateChain(certificate, Authority, out _);

    public void Dispose()
    {
        Certificate?.Dispose();
        foreach (X509Certificate2 ca in Authority)
        {
            ca.Dispose();
        }
    }

    private static X509ChainPolicy ChainPolicyFor(X509Certificate2Collection authority)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(authority);
        return policy;
    }

    private static string? ValidateChain(X509Certificate2 certificate, X509Certificate2Collection authority, out X509ChainStatusFlags flags)
    {
        using var chain = new X509Chain { ChainPolicy = ChainPolicyFor(authority) };
        bool valid = chain.Build(certificate);
        flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (f, s) => f | s.Status);
        return valid ? null : string.Join("; ", chain.ChainStatus.Select(s => $"{s.Status}: {s.StatusInformation.Trim()}"));
    }
}

/// <summary>TLS material that cannot be used; the message names the file and the problem.</summary>
public sealed class TlsConfigurationException : Exception
{
    public TlsConfigurationException(string message)
        : base(message)
    {
    }
}
