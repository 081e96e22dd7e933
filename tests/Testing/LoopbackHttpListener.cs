using System.Net;

namespace Enclave.Testing;

/// <summary>An <see cref="HttpListener"/> on a free loopback port, for tests that stand in for an HTTP party.</summary>
public static class LoopbackHttpListener
{
    /// <summary>Starts a listener and returns it with its base URL (no trailing slash). HttpListener cannot listen on
    /// port 0, so it takes a port the system just handed out and released; another process may take that port
    /// first, in which case Start fails and the next candidate is tried.</summary>
    public static (HttpListener Listener, string Url) Start()
    {
        for (int attempt = 1; ; attempt++)
        {
            string url;
            using (var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
            {
                probe.Start();
                url = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}";
            }

            var listener = new HttpListener();
            listener.Prefixes.Add(url + "/");
            try
            {
                listener.Start();
                return (listener, url);
            }
            catch (HttpListenerException) when (attempt < 10)
            {
                listener.Close();
            }
        }
    }
}
