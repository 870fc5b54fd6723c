using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Pyralog.Networking;

/*
 * One TCP connection of Orleans' messaging (silo to silo, client to gateway) whose pipes run their continuations on the
 * thread that fed them. Orleans' own socket transport moves every received buffer from the socket's completion to a
 * pool thread before its message reader sees it, and every flushed message from its writer to an I/O queue (one more
 * pool thread) before the socket sends it. On a small machine each move is a wake of a parked thread: a replicated
 * append crosses four connections, so those moves were a large part of its latency. Here Orleans' message reader runs
 * on the thread whose receive completed, and the socket send runs on the thread that flushed the message.
 *
 * That is safe because both ends of both pipes are loops that never block: ours (receive into the pipe, send from it)
 * and Orleans' (parse messages and hand them to grain schedulers; serialize queued messages). Neither pipe pauses its
 * writer, as in Orleans' transport (no maximum buffer size either): a peer that stops reading lets the send pipe grow,
 * until Orleans' response timeouts or its membership's probes end the connection.
 *
 * Closing, the contract Orleans' connections rely on: ConnectionClosed fires once the receive loop has ended (the peer
 * closed or reset the connection, or Abort shut the socket); Abort shuts the socket down, which ends both loops; when
 * Orleans completes its ends of the pipes the send loop ends and shuts the socket; DisposeAsync waits for both loops.
 */
internal sealed class InlineSocketConnection : ConnectionContext, IDuplexPipe
{
    /// <summary>The least room a receive asks of the pipe: a pooled segment.</summary>
    internal const int ReceiveBytes = 4096;

    /// <summary>The most room a receive asks of the pipe, after receives that each filled what they were given.</summary>
    internal const int MaxReceiveBytes = 64 << 10;

    private static long s_connections;

    private static readonly PipeOptions Inline = new(
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 0,
        resumeWriterThreshold: 0,
        useSynchronizationContext: false);

    private readonly Socket _socket;
    private readonly ILogger _logger;
    private readonly Pipe _received = new(Inline); // socket → Orleans
    private readonly Pipe _toSend = new(Inline); // Orleans → socket
    private readonly List<ArraySegment<byte>> _segments = []; // scratch of the send loop
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _closedFired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _shutdownLock = new();

    // Invariant: set once, under _shutdownLock, by the first Shutdown; the socket is disposed from then on.
    private Exception? _shutdownReason;
    private Task _loops = Task.CompletedTask;

    public InlineSocketConnection(Socket socket, ILogger logger)
    {
        _socket = socket;
        _logger = logger;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionId = $"pyralog-{Interlocked.Increment(ref s_connections)}";
        ConnectionClosed = _closed.Token;
        Transport = this;
    }

    /// <summary>Connections this process has opened or accepted on this transport.</summary>
    public static long Opened => Volatile.Read(ref s_connections);

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; }

    PipeReader IDuplexPipe.Input => _received.Reader;

    PipeWriter IDuplexPipe.Output => _toSend.Writer;

    private Exception? ShutdownReason
    {
        get
        {
            lock (_shutdownLock)
            {
                return _shutdownReason;
            }
        }
    }

    /// <summary>Starts the receive and send loops.</summary>
    public void Start() => _loops = RunAsync();

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Shutdown(abortReason);
        _toSend.Reader.CancelPendingRead();
    }

    public override async ValueTask DisposeAsync()
    {
        await _received.Reader.CompleteAsync();
        await _toSend.Writer.CompleteAsync();
        await _loops;
        _closed.Dispose();
    }

    private async Task RunAsync()
    {
        var receiving = ReceiveAsync();
        var sending = SendAsync();
        await receiving;
        await sending;
    }

    private async Task ReceiveAsync()
    {
        var writer = _received.Writer;
        Exception? error = null;
        try
        {
            var want = ReceiveBytes;
            while (true)
            {
                var memory = writer.GetMemory(want);
                var count = await _socket.ReceiveAsync(memory, SocketFlags.None);
                if (count == 0)
                {
                    break; // the peer closed its side
                }

                want = NextReceiveBytes(want, count, memory.Length);
                writer.Advance(count);
                var flushed = await writer.FlushAsync(); // Orleans' message reader runs here, on this thread
                if (flushed.IsCompleted || flushed.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            error = e; // a reset, or Abort disposed the socket
        }
        catch (Exception e)
        {
            error = e;
            _logger.LogError(e, "Connection {Id} to {Remote}: the receive loop failed", ConnectionId, RemoteEndPoint);
        }
        finally
        {
            await writer.CompleteAsync(ShutdownReason ?? error);
            FireClosed();
            await _closedFired.Task;
        }
    }

    /// <summary>
    /// The room the next receive asks for, after one that asked for <paramref name="asked"/> bytes, was given
    /// <paramref name="given"/> (the pipe may give more) and received <paramref name="received"/>. A receive that filled
    /// its buffer left more in the socket: the next asks for twice the room (up to <see cref="MaxReceiveBytes"/>), so a
    /// busy connection takes a batch of tens of KiB in a few calls instead of one call, and one parse attempt by Orleans'
    /// reader, per 4 KiB (a loaded silo made six receive calls per send). One that did not goes back to a single segment,
    /// so an idle connection holds little while its receive waits.
    /// </summary>
    internal static int NextReceiveBytes(int asked, int received, int given) =>
        received == given ? Math.Min(asked * 2, MaxReceiveBytes) : ReceiveBytes;

    private async Task SendAsync()
    {
        var reader = _toSend.Reader;
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync();
                if (result.IsCanceled)
                {
                    break; // Abort
                }

                var buffer = result.Buffer;
                var end = buffer.End;
                while (!buffer.IsEmpty)
                {
                    buffer = buffer.Slice(await SendSomeAsync(buffer));
                }

                reader.AdvanceTo(end);
                if (result.IsCompleted)
                {
                    break; // Orleans completed its end: the connection is closing
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            error = e;
        }
        catch (Exception e)
        {
            error = e;
            _logger.LogError(e, "Connection {Id} to {Remote}: the send loop failed", ConnectionId, RemoteEndPoint);
        }
        finally
        {
            Shutdown(error); // ends the receive loop too
            await reader.CompleteAsync(error);
        }
    }

    /// <summary>Sends what one call can of <paramref name="buffer"/>: one segment, or all of them in one gather.</summary>
    private ValueTask<int> SendSomeAsync(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsSingleSegment)
        {
            return _socket.SendAsync(buffer.First, SocketFlags.None);
        }

        _segments.Clear();
        foreach (var memory in buffer)
        {
            // The pipe's default pool hands out arrays.
            if (!MemoryMarshal.TryGetArray(memory, out var segment))
            {
                throw new InvalidOperationException("a pipe segment is not backed by an array");
            }

            _segments.Add(segment);
        }

        return new ValueTask<int>(_socket.SendAsync(_segments, SocketFlags.None));
    }

    private void Shutdown(Exception? reason)
    {
        lock (_shutdownLock)
        {
            if (_shutdownReason is not null)
            {
                return;
            }

            _shutdownReason = reason ?? new ConnectionAbortedException("The connection's send loop ended");
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the peer: disposing is all that is left.
        }

        _socket.Dispose();
    }

    /// <summary>
    /// Fires <see cref="ConnectionContext.ConnectionClosed"/> on a pool thread: its callbacks are Orleans' closing of the
    /// connection, which must not run inside the receive loop.
    /// </summary>
    private void FireClosed() =>
        ThreadPool.UnsafeQueueUserWorkItem(
            static connection =>
            {
                try
                {
                    connection._closed.Cancel();
                }
                catch (AggregateException e)
                {
                    connection._logger.LogError(e, "Connection {Id}: a callback of its closing failed", connection.ConnectionId);
                }

                connection._closedFired.TrySetResult();
            },
            this,
            preferLocal: false);
}
