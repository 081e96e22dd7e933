// The transport options every `enclave serve` verb shares: where it listens and its TLS identity. TLS is on by
// default; a service starts without it only with --dev-cleartext on a loopback address.
using System.CommandLine;
using System.Net;
using Enclave.Hosting;

namespace Enclave.Cli.Commands;

internal sealed class ServiceTransport
{
    private readonly Option<string> _listen = new("--listen") { Description = "IP address to listen on (0.0.0.0 or :: for every interface)", DefaultValueFactory = _ => Enclave.Hosting.ServiceHost.DefaultListenAddress };
    private readonly Option<string> _certificate = new("--tls-cert") { Description = "this service's certificate (PEM), issued by the deployment CA (see `enclave pki`)" };
    private readonly Option<string> _key = new("--tls-key") { Description = "the certificate's private key (PEM)" };
    private readonly Option<string> _authority = new("--tls-ca") { Description = "the deployment CA's certificate(s) (PEM): the only roots trusted for servers and clients" };
    private readonly Option<bool> _cleartext = new("--dev-cleartext") { Description = "development only: serve and dial cleartext HTTP/2, allowed on a loopback --listen address only" };

    public void AddTo(Command command)
    {
        command.Options.Add(_listen);
        command.Options.Add(_certificate);
        command.Options.Add(_key);
        command.Options.Add(_authority);
        command.Options.Add(_cleartext);
    }

    /// <summary>The listen address and TLS settings the options give (null settings: development cleartext).</summary>
    public (string Listen, TlsSettings? Tls) Resolve(ParseResult parse)
    {
        string listen = parse.GetValue(_listen)!;
        if (!IPAddress.TryParse(listen, out _))
        {
            throw new CliException($"--listen '{listen}' is not an IP address");
        }

        (string? certificate, string? key, string? authority) = (parse.GetValue(_certificate), parse.GetValue(_key), parse.GetValue(_authority));
        if (parse.GetValue(_cleartext))
        {
            if (certificate is not null || key is not null || authority is not null)
            {
                throw new CliException("--dev-cleartext and --tls-cert/--tls-key/--tls-ca exclude each other");
            }

            if (!TlsSettings.CleartextAllowed(listen))
            {
                throw new CliException($"--dev-cleartext is only allowed on a loopback --listen address, not {listen}");
            }

            return (listen, null);
        }

        return (listen, ClientTls.Load(certificate, key, authority, required: true)!);
    }
}

/// <summary>The TLS options of the CLI's client verbs (enrol, register, probe, round): the CA that the services'
/// certificates must chain to and, where the server asks for one (hosts and the coordinator), a client certificate.</summary>
internal sealed class ClientTls
{
    private readonly Option<string> _authority = new("--tls-ca") { Description = "the deployment CA's certificate (PEM) the service's certificate must chain to (for https URLs)" };
    private readonly Option<string> _certificate = new("--tls-cert") { Description = "a client certificate (PEM) of the deployment CA, for services that require one (hosts, the coordinator)" };
    private readonly Option<string> _key = new("--tls-key") { Description = "the client certificate's private key (PEM)" };

    public void AddTo(Command command)
    {
        command.Options.Add(_authority);
        command.Options.Add(_certificate);
        command.Options.Add(_key);
    }

    public TlsSettings? Resolve(ParseResult parse) => Load(parse.GetValue(_certificate), parse.GetValue(_key), parse.GetValue(_authority), required: false);

    /// <summary>TLS settings from the three files; none given and not required gives null (cleartext URLs only);
    /// a client may give the CA alone.</summary>
    public static TlsSettings? Load(string? certificate, string? key, string? authority, bool required)
    {
        if (certificate is null && key is null && authority is null && !required)
        {
            return null;
        }

        if (!required && certificate is null && key is null && authority is not null)
        {
            try
            {
                return TlsSettings.ForClient(Path.GetFullPath(authority));
            }
            catch (TlsConfigurationException ex)
            {
                throw new CliException(ex.Message);
            }
        }

        if (certificate is null || key is null || authority is null)
        {
            throw new CliException(required
                ? "TLS is on by default: give --tls-cert, --tls-key and --tls-ca (create them with `enclave pki init` and `enclave pki issue`), or --dev-cleartext on loopback"
                : "--tls-cert, --tls-key and --tls-ca go together");
        }

        try
        {
            return TlsSettings.Load(Path.GetFullPath(certificate), Path.GetFullPath(key), Path.GetFullPath(authority));
        }
        catch (TlsConfigurationException ex)
        {
            throw new CliException(ex.Message);
        }
    }
}
