// A listening socket a service binds before it is built. Binding first turns a requested port of 0 into a real port
// that the service can name (in its issuer URL, in its ready file) before it serves anything, and leaves no window
// between choosing a port and listening on it in which another process could take it.
using System.Net;
using System.Net.Sockets;

namespace Enclave.Hosting;

public sealed class ServiceListener : IDisposable
{
    private readonly Socket _socket;

    private ServiceListener(Socket socket, IPEndPoint endPoint, bool secure)
    {
        _socket = socket;
        EndPoint = endPoint;
        Secure = secure;
    }

    /// <summary>Whether the service serves TLS on this listener (https URLs) or, in development, cleartext.</summary>
    public bool Secure { get; }

    /// <summary>The address and port actually bound (the kernel's choice when 0 was asked for).</summary>
    public IPEndPoint EndPoint { get; }

    public int Port => EndPoint.Port;

    /// <summary>The URL clients use to reach this listener (https with TLS); for a wildcard listen address, the
    /// loopback address of the same family.</summary>
    public Uri Url => new UriBuilder(
        Secure ? Uri.UriSchemeHttps : Uri.UriSchemeHttp,
        (EndPoint.Address.Equals(IPAddress.Any) ? IPAddress.Loopback : EndPoint.Address.Equals(IPAddress.IPv6Any) ? IPAddress.IPv6Loopback : EndPoint.Address).ToString(),
        EndPoint.Port).Uri;

    /// <summary>The socket's descriptor, for Kestrel's <c>ListenHandle</c>; the listener keeps ownership.</summary>
    internal ulong Handle => (ulong)_socket.SafeHandle.DangerousGetHandle();

    /// <summary>Binds and listens on <paramref name="address"/>:<paramref name="port"/>; port 0 lets the kernel
    /// choose a free port, which <see cref="Port"/> then reports.</summary>
    /// <exception cref="ArgumentException">The address is not an IP address or the port is out of range.</exception>
    /// <exception cref="PortUnavailableException">The address cannot be bound (in use, not local, not permitted).</exception>
    public static ServiceListener Bind(string address, int port, bool secure = false)
    {
        if (!IPAddress.TryParse(address, out IPAddress? ip))
        {
            throw new ArgumentException($"'{address}' is not an IP address to listen on", nameof(address));
        }

        if (port is < 0 or > IPEndPoint.MaxPort)
        {
            throw new ArgumentOutOfRangeException(nameof(port), port, $"A port is 0 (any free port) to {IPEndPoint.MaxPort}.");
        }

        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // No ReuseAddress: on Unix .NET sets SO_REUSEPORT with it, which would let a second service bind the same
            // port and silently share its connections instead of failing.
            socket.Bind(new IPEndPoint(ip, port));
            socket.Listen(512);
            return new ServiceListener(socket, (IPEndPoint)socket.LocalEndPoint!, secure);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new PortUnavailableException(new IPEndPoint(ip, port), ex);
        }
    }

    public void Dispose() => _socket.Dispose();
}

/// <summary>A service could not listen where it was told to.</summary>
public sealed class PortUnavailableException : IOException
{
    public PortUnavailableException(IPEndPoint endPoint, SocketException inner)
        : base($"cannot listen on {endPoint}: {Describe(inner.SocketErrorCode)}", inner)
    {
        EndPoint = endPoint;
        Error = inner.SocketErrorCode;
    }

    public IPEndPoint EndPoint { get; }

    public SocketError Error { get; }

    private static string Describe(SocketError error) => error switch
    {
        SocketError.AddressAlreadyInUse => "the port is already in use (pass port 0 to let the system choose a free one)",
        SocketError.AddressNotAvailable => "the address does not belong to this machine",
        SocketError.AccessDenied => "not permitted (ports below 1024 need privileges)",
        _ => error.ToString(),
    };
}

/// <summary>Where a running service listens: its gRPC endpoint and, for services that have one, its HTTP/1.1 JSON
/// endpoint. Resolve it from the application's services after <c>Build</c>; the application owns the sockets and
/// closes them when it is disposed.</summary>
public sealed class ServiceEndpoints : IDisposable
{
    public ServiceEndpoints(ServiceListener grpc, ServiceListener? http)
    {
        ArgumentNullException.ThrowIfNull(grpc);
        Grpc = grpc;
        Http = http;
    }

    public ServiceListener Grpc { get; }

    public ServiceListener? Http { get; }

    public void Dispose()
    {
        Grpc.Dispose();
        Http?.Dispose();
    }
}
