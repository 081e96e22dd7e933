using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Enclave.KeyBroker.Tests.Support;

/// <summary>A loopback TCP forwarder that delivers what each side sends a fixed delay after it arrived, so a
/// database on this machine looks as far away as one in another zone; it counts the client's sends, which, for a
/// client that waits for each answer before it sends again, are its round trips.</summary>
internal sealed class DelayingTcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly TimeSpan _delay;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _sockets = [];
    private readonly Task _accepting;
    private long _clientSends;

    public DelayingTcpProxy(int targetPort, TimeSpan oneWayDelay)
    {
        _targetPort = targetPort;
        _delay = oneWayDelay;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Chunks read from clients so far.</summary>
    public long ClientSends => Interlocked.Read(ref _clientSends);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_sockets)
        {
            foreach (TcpClient socket in _sockets)
            {
                socket.Dispose();
            }
        }

        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
            var server = new TcpClient { NoDelay = true };
            client.NoDelay = true;
            lock (_sockets)
            {
                _sockets.Add(client);
                _sockets.Add(server);
            }

            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            _ = PumpAsync(client.GetStream(), server.GetStream(), countSends: true);
            _ = PumpAsync(server.GetStream(), client.GetStream(), countSends: false);
        }
    }

    private async Task PumpAsync(NetworkStream from, NetworkStream to, bool countSends)
    {
        Channel<(DateTime Due, byte[] Data)> delayed = Channel.CreateUnbounded<(DateTime, byte[])>();
        Task delivering = DeliverAsync(delayed.Reader, to);
        byte[] buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (countSends)
                {
                    Interlocked.Increment(ref _clientSends);
                }

                delayed.Writer.TryWrite((DateTime.UtcNow + _delay, buffer[..read]));
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection or the proxy closed.
        }
        finally
        {
            delayed.Writer.TryComplete();
        }

        try
        {
            await delivering;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The other side closed.
        }
    }

    private async Task DeliverAsync(ChannelReader<(DateTime Due, byte[] Data)> delayed, NetworkStream to)
    {
        await foreach ((DateTime due, byte[] data) in delayed.ReadAllAsync(_stop.Token))
        {
            TimeSpan early = due - DateTime.UtcNow;
            if (early > TimeSpan.Zero)
            {
                await Task.Delay(early, _stop.Token);
            }

            await to.WriteAsync(data, _stop.Token);
        }

        to.Socket.Shutdown(SocketShutdown.Send);
    }
}
