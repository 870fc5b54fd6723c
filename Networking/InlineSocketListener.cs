using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Pyralog.Networking;

/// <summary>Accepts Orleans' incoming connections (silo and gateway endpoints) as <see cref="InlineSocketConnection"/>s.</summary>
internal sealed class InlineSocketListener : IConnectionListener
{
    private const int Backlog = 512;

    private readonly Socket _socket;
    private readonly ILogger _logger;

    private InlineSocketListener(Socket socket, ILogger logger)
    {
        _socket = socket;
        _logger = logger;
        EndPoint = socket.LocalEndPoint!;
    }

    public EndPoint EndPoint { get; }

    /// <summary>
    /// Binds and listens on <paramref name="endpoint"/>. Address reuse is on, as in Orleans' transport, so a restarted
    /// silo binds its port while connections of its previous run linger; on Linux that also lets a second process bind the
    /// same port (the silo host checks for that once it listens).
    /// </summary>
    public static InlineSocketListener Bind(EndPoint endpoint, ILogger logger)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            if (endpoint is IPEndPoint ip && ip.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(endpoint);
            socket.Listen(Backlog);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException($"{endpoint} is in use: {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new InlineSocketListener(socket, logger);
    }

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is ObjectDisposedException ||
                (e is SocketException s && s.SocketErrorCode == SocketError.OperationAborted))
            {
                return null; // unbound: Orleans stops accepting
            }
            catch (SocketException)
            {
                continue; // reset while waiting in the backlog
            }

            try
            {
                InlineSocketSettings.Apply(accepted);
            }
            catch (SocketException)
            {
                accepted.Dispose(); // reset before it could be set up
                continue;
            }

            var connection = new InlineSocketConnection(accepted, _logger);
            connection.Start();
            return connection;
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _socket.Dispose();
        return default;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return default;
    }
}
