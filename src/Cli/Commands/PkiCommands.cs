// `enclave pki init | issue`: the deployment CA the security team runs for TLS between the parties. The CA is an
// ECDSA P-256 key and self-signed certificate (basicConstraints CA, path length 0, keyCertSign and cRLSign); each
// service gets an ECDSA P-256 certificate for the names it is reached by (DNS and IP subject alternative names),
// usable as a TLS server and client (mutual TLS). Organisations with their own PKI bring PEM files instead.
using System.CommandLine;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.Cli.Commands;

internal static class PkiCommands
{
    public const string CaCertificateFile = "ca.crt";
    public const string CaKeyFile = "ca.key";

    public static Command Create()
    {
        var initOut = new Option<string>("--out") { Required = true, Description = "folder for ca.crt and ca.key (the key stays with the security team)" };
        var initName = new Option<string>("--name") { Description = "the CA's common name", DefaultValueFactory = _ => "Enclave deployment CA" };
        var initDays = new Option<int>("--days") { Description = "validity in days", DefaultValueFactory = _ => 825 };
        var init = new Command("init", "Create the deployment CA.") { initOut, initName, initDays };
        init.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string path = InitAuthority(Path.GetFullPath(parse.GetValue(initOut)!), parse.GetValue(initName)!, Days(parse.GetValue(initDays)));
            Console.WriteLine(path);
            return Task.FromResult(0);
        }));

        var ca = new Option<string>("--ca") { Required = true, Description = "folder holding ca.crt and ca.key" };
        var name = new Option<string>("--name") { Required = true, Description = "the service's name: file names and, without --dns/--ip, its DNS name" };
        var dns = new Option<string[]>("--dns") { AllowMultipleArgumentsPerToken = true, Description = "DNS names the service is reached by (repeat or comma-separate)" };
        var ip = new Option<string[]>("--ip") { AllowMultipleArgumentsPerToken = true, Description = "IP addresses the service is reached by (repeat or comma-separate)" };
        var output = new Option<string>("--out") { Required = true, Description = "folder for NAME.crt and NAME.key" };
        var days = new Option<int>("--days") { Description = "validity in days", DefaultValueFactory = _ => 397 };
        var issue = new Command("issue", "Issue a service's TLS certificate (server and client use) from the deployment CA.") { ca, name, dns, ip, output, days };
        issue.SetAction(parse => CliErrors.RunAsync(() =>
        {
            (string certificate, _) = Issue(
                Path.GetFullPath(parse.GetValue(ca)!), parse.GetValue(name)!, Split(parse.GetValue(dns)), Split(parse.GetValue(ip)),
                Path.GetFullPath(parse.GetValue(output)!), DateTimeOffset.UtcNow, Days(parse.GetValue(days)));
            Console.WriteLine(certificate);
            return Task.FromResult(0);
        }));
        return new Command("pki", "The deployment CA for TLS between the parties.") { init, issue };
    }

    /// <summary>Creates ca.crt and ca.key in <paramref name="directory"/> and returns the certificate's path.</summary>
    public static string InitAuthority(string directory, string commonName, TimeSpan validity, DateTimeOffset? notBefore = null)
    {
        string certificatePath = Path.Combine(directory, CaCertificateFile);
        if (File.Exists(certificatePath) || File.Exists(Path.Combine(directory, CaKeyFile)))
        {
            throw new CliException($"{directory} already holds a CA; refusing to overwrite it");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        DateTimeOffset from = notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5);
        using X509Certificate2 certificate = request.CreateSelfSigned(from, from + validity);
        Directory.CreateDirectory(directory);
        KeyFiles.WritePrivate(Path.Combine(directory, CaKeyFile), key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        return certificatePath;
    }

    /// <summary>Issues NAME.crt and NAME.key into <paramref name="output"/>, valid from <paramref name="notBefore"/>
    /// for <paramref name="validity"/>; returns both paths.</summary>
    public static (string Certificate, string Key) Issue(
        string caDirectory, string name, IReadOnlyList<string> dnsNames, IReadOnlyList<string> addresses, string output, DateTimeOffset notBefore, TimeSpan validity)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.'))
        {
            throw new CliException($"--name '{name}' must be 1 to 64 of [A-Za-z0-9.-]");
        }

        using X509Certificate2 authority = LoadAuthority(caDirectory);
        var names = new SubjectAlternativeNameBuilder();
        IReadOnlyList<string> dns = dnsNames.Count == 0 && addresses.Count == 0 ? [name] : dnsNames;
        foreach (string d in dns)
        {
            if (Uri.CheckHostName(d) != UriHostNameType.Dns)
            {
                throw new CliException($"--dns '{d}' is not a DNS name");
            }

            names.AddDnsName(d);
        }

        foreach (string a in addresses)
        {
            if (!IPAddress.TryParse(a, out IPAddress? ip))
            {
                throw new CliException($"--ip '{a}' is not an IP address");
            }

            names.AddIpAddress(ip);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(name)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(names.Build(critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        DateTimeOffset notAfter = notBefore + validity;
        if (notAfter > authority.NotAfter)
        {
            notAfter = authority.NotAfter;
        }

        using X509Certificate2 certificate = request.Create(authority, notBefore.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));
        Directory.CreateDirectory(output);
        string keyPath = Path.Combine(output, name + ".key");
        string certificatePath = Path.Combine(output, name + ".crt");
        KeyFiles.WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        return (certificatePath, keyPath);
    }

    private static X509Certificate2 LoadAuthority(string directory)
    {
        try
        {
            return X509Certificate2.CreateFromPemFile(Path.Combine(directory, CaCertificateFile), Path.Combine(directory, CaKeyFile));
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--ca {directory}: no usable {CaCertificateFile} and {CaKeyFile} ({ex.Message})");
        }
    }

    private static TimeSpan Days(int days) =>
        days is >= 1 and <= 3650 ? TimeSpan.FromDays(days) : throw new CliException($"--days must be 1 to 3650, got {days}");

    private static string[] Split(string[]? values) =>
        (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();

    private static string Escape(string value) => value.Replace("\"", string.Empty, StringComparison.Ordinal).Replace(",", " ", StringComparison.Ordinal);
}
