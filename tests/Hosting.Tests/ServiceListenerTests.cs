using System.Net;
using System.Net.Sockets;
using System.Text;
using Enclave.Hosting;
using Enclave.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.Hosting.Tests;

public sealed class ServiceListenerTests
{
    [Fact]
    public void PortZeroBindsAPortTheSystemChoseAndNamesIt()
    {
        using ServiceListener listener = ServiceListener.Bind("127.0.0.1", 0);
        Assert.InRange(listener.Port, 1, IPEndPoint.MaxPort);
        Assert.Equal(IPAddress.Loopback, listener.EndPoint.Address);
        Assert.Equal(new Uri($"http://127.0.0.1:{listener.Port}/"), listener.Url);

        // Already listening: a client connects before any server is built on it.
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, listener.Port);
    }

    [Fact]
    public void APortInUseIsATypedErrorNamingTheEndpoint()
    {
        using ServiceListener first = ServiceListener.Bind("127.0.0.1", 0);
        PortUnavailableException error = Assert.Throws<PortUnavailableException>(() => ServiceListener.Bind("127.0.0.1", first.Port));
        Assert.Equal(SocketError.AddressAlreadyInUse, error.Error);
        Assert.Equal(first.Port, error.EndPoint.Port);
        Assert.Contains($"127.0.0.1:{first.Port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("already in use", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("localhost", 0)]
    [InlineData("", 0)]
    [InlineData("127.0.0.1", -1)]
    [InlineData("127.0.0.1", 65536)]
    public void AnAddressOrPortThatCannotBeMeantIsRefusedBeforeBinding(string address, int port)
    {
        Assert.ThrowsAny<ArgumentException>(() => ServiceListener.Bind(address, port));
    }

    [Fact]
    public void AnAddressOfAnotherMachineIsTyped()
    {
        // TEST-NET-1 (RFC 5737) is never assigned to a local interface.
        PortUnavailableException error = Assert.Throws<PortUnavailableException>(() => ServiceListener.Bind("192.0.2.1", 0));
        Assert.Equal(SocketError.AddressNotAvailable, error.Error);
    }

    [Fact]
    public async Task AServiceOnPortZeroServesWhereItsEndpointsSayAndClosesThemWhenDisposed()
    {
        WebApplicationBuilder builder = ServiceHost.CreateBuilder("127.0.0.1", 0, 0, 1024, tls: null, logging: l => l.ClearProviders());
        WebApplication app = builder.Build();
        app.MapGet("/hello", () => Results.Text("hello"));
        ServiceEndpoints endpoints = app.Services.GetRequiredService<ServiceEndpoints>();
        Assert.NotNull(endpoints.Http);
        Assert.NotEqual(endpoints.Grpc.Port, endpoints.Http!.Port);

        await app.StartAsync();
        using (var http = new HttpClient { BaseAddress = endpoints.Http.Url })
        {
            Assert.Equal("hello", await http.GetStringAsync("/hello"));
        }

        int grpcPort = endpoints.Grpc.Port, httpPort = endpoints.Http.Port;
        await app.StopAsync();
        await app.DisposeAsync();

        // The application owned the sockets: both ports are free again.
        using ServiceListener again = ServiceListener.Bind("127.0.0.1", httpPort);
        using ServiceListener againGrpc = ServiceListener.Bind("127.0.0.1", grpcPort);
    }

    [Fact]
    public void AReadyFileRoundTripsAndIsWrittenWhole()
    {
        string directory = Path.Combine(Path.GetTempPath(), $"enclave-ready-{Guid.NewGuid():N}");
        try
        {
            string path = Path.Combine(directory, "nested", "broker.ready.json");
            Assert.Null(ServiceReadyFile.TryRead(path));
            var ready = new ServiceReadyFile("broker", 4242, new Uri("http://127.0.0.1:5001/"), new Uri("http://127.0.0.1:5002/"));
            ready.Write(path);
            Assert.Equal(ready, ServiceReadyFile.TryRead(path));
            Assert.Equal(["broker.ready.json"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));

            var grpcOnly = ready with { Http = null };
            grpcOnly.Write(path);
            Assert.Equal(grpcOnly, ServiceReadyFile.TryRead(path));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Theory]
    [InlineData("", "not JSON")]
    [InlineData("[1]", "not a JSON object")]
    [InlineData("""{"pid":1,"grpc":"http://127.0.0.1:1/"}""", "'service'")]
    [InlineData("""{"service":"b","grpc":"http://127.0.0.1:1/"}""", "'pid'")]
    [InlineData("""{"service":"b","pid":0,"grpc":"http://127.0.0.1:1/"}""", "'pid'")]
    [InlineData("""{"service":"b","pid":"1","grpc":"http://127.0.0.1:1/"}""", "'pid'")]
    [InlineData("""{"service":"b","pid":1}""", "'grpc'")]
    [InlineData("""{"service":"b","pid":1,"grpc":"127.0.0.1:1"}""", "'grpc'")]
    [InlineData("""{"service":"b","pid":1,"grpc":"file:///etc/passwd"}""", "'grpc'")]
    [InlineData("""{"service":"b","pid":1,"grpc":"http://127.0.0.1:1/","http":5}""", "'http'")]
    [InlineData("""{"service":{"a":{"b":{"c":{"d":1}}}},"pid":1,"grpc":"http://127.0.0.1:1/"}""", "not JSON")]
    public void AMalformedReadyFileIsRefusedNamingWhatIsWrong(string text, string named)
    {
        InvalidDataException error = Assert.Throws<InvalidDataException>(() => ServiceReadyFile.Parse(Encoding.UTF8.GetBytes(text)));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnOversizedReadyFileIsRefusedUnread()
    {
        byte[] big = Encoding.UTF8.GetBytes($"{{\"service\":\"{new string('a', ServiceReadyFile.MaxLength)}\",\"pid\":1,\"grpc\":\"http://127.0.0.1:1/\"}}");
        Assert.Contains("at most", Assert.Throws<InvalidDataException>(() => ServiceReadyFile.Parse(big)).Message, StringComparison.Ordinal);
    }
}
