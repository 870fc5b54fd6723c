using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Orleans.Networking.Shared;

namespace Pyralog.Networking;

/// <summary>Opens Orleans' outgoing connections (silo to silo, client to gateway) as <see cref="InlineSocketConnection"/>s.</summary>
internal sealed class InlineSocketConnectionFactory(ILoggerFactory loggers) : IConnectionFactory
{
    private readonly ILogger _logger = loggers.CreateLogger<InlineSocketConnection>();

    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = endpoint is IPEndPoint ip
            ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            InlineSocketSettings.Apply(socket);
            await socket.ConnectAsync(endpoint, cancellationToken);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new SocketConnectionException($"Unable to connect to {endpoint}: {e.SocketErrorCode}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var connection = new InlineSocketConnection(socket, _logger);
        connection.Start();
        return connection;
    }
}
