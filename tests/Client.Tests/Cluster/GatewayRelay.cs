using System.Net;
using System.Net.Sockets;
using Pyralog.Testing;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// A TCP relay on 127.0.0.1 in front of one silo's gateway, so a test can take that gateway away from one client while
/// the silo runs on: <see cref="Cut"/> closes every relayed connection (both ends see it closed) and refuses new ones.
/// </summary>
internal sealed class GatewayRelay : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _cut = new();
    private readonly Lock _gate = new();

    // Invariant: guarded by _gate; every socket of a relayed connection not yet closed; empty once cut.
    private readonly List<Socket> _open = [];
    private readonly Task _accepting;
    private int _accepted;

    public GatewayRelay(int gatewayPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, gatewayPort);
        Port = TestPorts.Next();
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, Port));
        _listener.Listen();
        _accepting = AcceptAsync();
    }

    /// <summary>The port clients connect to instead of the gateway's.</summary>
    public int Port { get; }

    /// <summary>Connections relayed so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Closes every relayed connection and stops listening: a connect to <see cref="Port"/> is refused from now on.</summary>
    public void Cut()
    {
        _cut.Cancel();
        _listener.Dispose();
        lock (_gate)
        {
            foreach (var socket in _open)
            {
                socket.Dispose();
            }

            _open.Clear();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Cut();
        await _accepting;
        _cut.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_cut.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_cut.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            var gateway = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await gateway.ConnectAsync(_target, _cut.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                client.Dispose();
                gateway.Dispose();
                continue;
            }

            lock (_gate)
            {
                if (_cut.IsCancellationRequested)
                {
                    client.Dispose();
                    gateway.Dispose();
                    return;
                }

                _open.Add(client);
                _open.Add(gateway);
            }

            Interlocked.Increment(ref _accepted);
            _ = PumpAsync(client, gateway);
            _ = PumpAsync(gateway, client);
        }
    }

    /// <summary>Copies one direction until either side closes, then closes both.</summary>
    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 << 10];
        try
        {
            while (true)
            {
                var count = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (count == 0)
                {
                    break;
                }

                for (var sent = 0; sent < count;)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, count - sent), SocketFlags.None);
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The other direction or Cut closed the connection.
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }
}
