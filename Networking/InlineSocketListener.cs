using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Pyralog.Networking;

/// <summary>Accepts Orleans' incoming connections (silo and gateway endpoints) as <see cref="InlineSocketConnection"/>s.</summary>
internal sealed class InlineSocketListener : IConnectionListener
{
    private const int Backlog = 512;
    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(100);

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
    /// Binds and listens on <paramref name="endpoint"/>. A restarted silo binds its port while connections of its previous
    /// run linger (.NET binds every TCP socket with SO_REUSEADDR on Unix). The socket option ReuseAddress is left off,
    /// unlike Orleans' transport: on Linux it adds SO_REUSEPORT, which let another process that sets it too (any Orleans
    /// app on the same default ports) bind the port later and take a share of the silo's incoming connections.
    /// </summary>
    public static InlineSocketListener Bind(EndPoint endpoint, ILogger logger)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
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
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
            {
                continue; // reset while waiting in the backlog
            }
            catch (SocketException e)
            {
                // Out of descriptors or buffers: the backlog stays readable and accept fails at once, so retrying at once
                // spun a thread at 100 % of a core. Reported, and tried again a little later.
                _logger.LogWarning(e, "Accepting a connection on {EndPoint} failed; trying again in {Delay} ms", EndPoint, (int)AcceptRetryDelay.TotalMilliseconds);
                await Task.Delay(AcceptRetryDelay, cancellationToken);
                continue;
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
