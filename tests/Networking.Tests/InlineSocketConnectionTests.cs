using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Networking.Shared;

namespace Pyralog.Networking.Tests;

public sealed class InlineSocketConnectionTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private readonly InlineSocketListenerFactory _listeners = new(NullLoggerFactory.Instance);
    private readonly InlineSocketConnectionFactory _connections = new(NullLoggerFactory.Instance);
    private IConnectionListener _listener = null!;

    public async Task InitializeAsync() => _listener = await _listeners.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));

    public async Task DisposeAsync() => await _listener.DisposeAsync();

    [Fact]
    public async Task BytesCrossBothWaysWholeAndInOrder()
    {
        var (client, server) = await ConnectAsync();
        await using (client)
        await using (server)
        {
            // Megabytes written in uneven pieces: the send loop meets single- and many-segment buffers.
            var up = Bytes(seed: 1, 3 << 20);
            var down = Bytes(seed: 2, 1 << 20);
            var reading = ReadExactlyAsync(server.Transport.Input, up.Length);
            await WriteInPiecesAsync(client.Transport.Output, up, seed: 3);
            Assert.Equal(up, await reading.WaitAsync(Patience));

            reading = ReadExactlyAsync(client.Transport.Input, down.Length);
            await WriteInPiecesAsync(server.Transport.Output, down, seed: 4);
            Assert.Equal(down, await reading.WaitAsync(Patience));
        }
    }

    [Fact]
    public void AReceiveThatFillsItsBufferDoublesTheNextUpToTheMostAndOneThatDoesNotGoesBackToOneSegment()
    {
        const int least = InlineSocketConnection.ReceiveBytes;
        const int most = InlineSocketConnection.MaxReceiveBytes;
        Assert.Equal(2 * least, InlineSocketConnection.NextReceiveBytes(least, least, least));
        Assert.Equal(4 * least, InlineSocketConnection.NextReceiveBytes(2 * least, 3 * least, 3 * least)); // the pipe gave more
        Assert.Equal(most, InlineSocketConnection.NextReceiveBytes(most, most, most));
        Assert.Equal(most, InlineSocketConnection.NextReceiveBytes(most / 2 + 1, most, most));
        Assert.Equal(least, InlineSocketConnection.NextReceiveBytes(most, most - 1, most));
        Assert.Equal(least, InlineSocketConnection.NextReceiveBytes(least, 1, least));
    }

    [Fact]
    public async Task APeerThatCompletesItsOutputEndsTheOtherSidesInputAndClosesBoth()
    {
        var (client, server) = await ConnectAsync();
        var serverClosed = Closed(server);
        var clientClosed = Closed(client);

        await client.Transport.Output.WriteAsync(new byte[] { 7, 8, 9 });
        await client.Transport.Output.CompleteAsync();

        Assert.Equal(new byte[] { 7, 8, 9 }, await ReadExactlyAsync(server.Transport.Input, 3).WaitAsync(Patience));
        var end = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(Patience);
        Assert.True(end.IsCompleted);
        Assert.True(end.Buffer.IsEmpty);
        await serverClosed.WaitAsync(Patience);
        await clientClosed.WaitAsync(Patience);

        await client.DisposeAsync().AsTask().WaitAsync(Patience);
        await server.DisposeAsync().AsTask().WaitAsync(Patience);
    }

    [Fact]
    public async Task AbortClosesBothSidesAndDisposeWaitsForNothingElse()
    {
        var (client, server) = await ConnectAsync();
        var serverClosed = Closed(server);
        var clientClosed = Closed(client);

        server.Abort(new ConnectionAbortedException("test abort"));

        await serverClosed.WaitAsync(Patience);
        await clientClosed.WaitAsync(Patience);
        var end = await client.Transport.Input.ReadAsync().AsTask().WaitAsync(Patience);
        Assert.True(end.IsCompleted);
        await client.DisposeAsync().AsTask().WaitAsync(Patience);
        await server.DisposeAsync().AsTask().WaitAsync(Patience);
    }

    [Fact]
    public async Task ConnectingWhereNobodyListensNamesTheEndpoint()
    {
        var endpoint = _listener.EndPoint;
        await _listener.UnbindAsync();

        var e = await Assert.ThrowsAsync<SocketConnectionException>(() => _connections.ConnectAsync(endpoint).AsTask());
        Assert.Equal($"Unable to connect to {endpoint}: ConnectionRefused", e.Message);
    }

    [Fact]
    public async Task AcceptOnAnUnboundListenerReturnsNull()
    {
        var accepting = _listener.AcceptAsync().AsTask();
        await _listener.UnbindAsync();

        Assert.Null(await accepting.WaitAsync(Patience));
    }

    [Fact]
    public void AnotherSocketCannotShareTheListenersPortEvenAskingForReuse()
    {
        // SO_REUSEPORT on both sides would let the kernel hand this socket a share of the listener's connections.
        using var other = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        other.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
        var refused = Assert.Throws<System.Net.Sockets.SocketException>(() => other.Bind(_listener.EndPoint));
        Assert.Equal(System.Net.Sockets.SocketError.AddressAlreadyInUse, refused.SocketErrorCode);
    }

    [Fact]
    public async Task AListenerBindsItsPortAgainWhileAClosedConnectionOfItsPreviousRunLingers()
    {
        var (client, server) = await ConnectAsync();
        var clientClosed = Closed(client);
        server.Abort(new ConnectionAbortedException("the silo stops")); // the side that closes first keeps the port in TIME_WAIT
        await clientClosed.WaitAsync(Patience);
        await client.DisposeAsync();
        await server.DisposeAsync();
        var endpoint = _listener.EndPoint;
        await _listener.UnbindAsync();

        _listener = await _listeners.BindAsync(endpoint);
        (client, server) = await ConnectAsync();
        await client.DisposeAsync();
        await server.DisposeAsync();
    }

    private async Task<(ConnectionContext Client, ConnectionContext Server)> ConnectAsync()
    {
        var accepting = _listener.AcceptAsync().AsTask();
        var client = await _connections.ConnectAsync(_listener.EndPoint);
        var server = await accepting.WaitAsync(Patience);
        Assert.NotNull(server);
        return (client, server);
    }

    private static Task Closed(ConnectionContext connection)
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionClosed.Register(() => closed.TrySetResult());
        return closed.Task;
    }

    private static byte[] Bytes(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task WriteInPiecesAsync(PipeWriter output, byte[] bytes, int seed)
    {
        var random = new Random(seed);
        for (var at = 0; at < bytes.Length;)
        {
            var length = Math.Min(bytes.Length - at, random.Next(1, 200_000));
            bytes.AsSpan(at, length).CopyTo(output.GetSpan(length));
            output.Advance(length);
            await output.FlushAsync();
            at += length;
        }
    }

    private static async Task<byte[]> ReadExactlyAsync(PipeReader input, int length)
    {
        while (true)
        {
            var result = await input.ReadAsync();
            if (result.Buffer.Length >= length)
            {
                var bytes = result.Buffer.Slice(0, length).ToArray();
                input.AdvanceTo(result.Buffer.GetPosition(length));
                return bytes;
            }

            if (result.IsCompleted)
            {
                throw new InvalidOperationException($"the input ended after {result.Buffer.Length} of {length} bytes");
            }

            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}
