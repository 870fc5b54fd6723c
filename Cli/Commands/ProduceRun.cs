using System.Threading.Channels;
using Pyralog.Cli.Input;
using Pyralog.Cli.Logs;
using Pyralog.Cli.Output;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>
/// One <c>pyralog produce</c>: one loop reads lines and sends each as a record; another collects the acknowledgements in
/// input order, printing them with <c>--verbose</c> as they come (flushed whenever it has caught up, so a person typing
/// sees each). Reading waits when too many records are unacknowledged, and stops at the first record that failed, at an
/// input that cannot be read further, or once nothing reads the <c>--verbose</c> output.
/// </summary>
internal sealed class ProduceRun(string log, int? partition, byte[]? key, int maxRecordBytes, bool verbose, TextWriter output, long maxPendingBytes = ProduceRun.DefaultMaxPendingBytes)
{
    /// <summary>Records waiting for their acknowledgement before the input is read further.</summary>
    private const int MaxPending = 16_384;

    /// <summary>Encoded bytes of the records waiting for their acknowledgement before the input is read further (one
    /// record is always let through): with long lines the record count alone would hold gigabytes.</summary>
    public const long DefaultMaxPendingBytes = 64L << 20;

    private readonly Channel<(long Line, int Bytes, Task<RecordAddress> Ack)> _pending =
        Channel.CreateBounded<(long Line, int Bytes, Task<RecordAddress> Ack)>(new BoundedChannelOptions(MaxPending) { SingleReader = true, SingleWriter = true });

    // Invariant: the encoded bytes of the records in _pending and not yet collected; changed with Interlocked.
    private long _pendingBytes;

    // Set by the reader while it waits for room (after it set it, it checks the bytes again), completed and cleared by
    // the collector after each record it collects: no wake-up is lost and nothing accumulates.
    private TaskCompletionSource? _room;

    private readonly List<long> _failed = [];
    private volatile Exception? _failure;
    private volatile bool _outputClosed;

    // Cancelled once nothing reads stdout: ends a read of the input that waits (a terminal, an idle pipe) as Ctrl+C does.
    private readonly CancellationTokenSource _outputGone = new();

    public long Read { get; private set; }

    public long Acknowledged { get; private set; }

    public Exception? Failure => _failure;

    public bool StoppedEarly { get; private set; }

    public IReadOnlyList<long> Failed => _failed;

    /// <summary>Why the input could not be read past line <see cref="Read"/> (an I/O error, such as a directory as stdin), or null.</summary>
    public Exception? InputFailure { get; private set; }

    /// <summary>
    /// Reading stopped before the end of the input because nothing read the <c>--verbose</c> output any more
    /// (<c>| head</c>), as Ctrl+C stops it.
    /// </summary>
    public bool StoppedByClosedOutput { get; private set; }

    /// <summary>
    /// Sends every line until the input ends, a record fails, the input fails (<see cref="InputFailure"/>), stdout is
    /// closed (<see cref="StoppedByClosedOutput"/>), or <paramref name="stopReading"/> (Ctrl+C) ends the input like an end of file:
    /// the records read so far are still sent and waited for.
    /// </summary>
    public async Task SendAsync(IRecordProducer producer, LineReader reader, CancellationToken stopReading)
    {
        var collecting = CollectAsync();
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(stopReading, _outputGone.Token);
        try
        {
            while (true)
            {
                if (_failure is not null || collecting.IsCompleted) // the collector ends early only if the output failed
                {
                    StoppedEarly = true;
                    break;
                }

                if (_outputClosed)
                {
                    StoppedByClosedOutput = true;
                    break;
                }

                byte[]? line;
                try
                {
                    // WaitAsync too: a read of a pipe or terminal does not always honour the token.
                    line = await reader.ReadLineAsync(reading.Token).AsTask().WaitAsync(reading.Token);
                }
                catch (OperationCanceledException) when (reading.IsCancellationRequested)
                {
                    // Ctrl+C, or nothing reads stdout any more: as at the end of the input.
                    StoppedByClosedOutput = !stopReading.IsCancellationRequested;
                    break;
                }
                catch (LineTooLongException e)
                {
                    // Refused as a line over the limit is, without reading the rest of it.
                    Read++;
                    var refused = new ArgumentException($"line {Read} is longer than {e.MaxBytes} bytes, so as a record it is over the {maxRecordBytes} bytes log '{log}' accepts");
                    await _pending.Writer.WriteAsync((Read, 0, Task.FromException<RecordAddress>(refused)), CancellationToken.None);
                    StoppedEarly = true;
                    break;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // The lines read before are still sent and waited for; the part of a line read is not.
                    InputFailure = e;
                    break;
                }

                if (line is null)
                {
                    break;
                }

                Read++;
                var record = new ProducerRecord(key, line);
                var bytes = record.EncodedBytes;
                var ack = bytes > maxRecordBytes
                    ? Task.FromException<RecordAddress>(new ArgumentException(
                        $"line {Read} is a record of {bytes} bytes encoded, over the {maxRecordBytes} bytes log '{log}' accepts"))
                    : Send(producer, record);
                await _pending.Writer.WriteAsync((Read, bytes, ack), CancellationToken.None);
                Interlocked.Add(ref _pendingBytes, bytes);
                while (Interlocked.Read(ref _pendingBytes) > maxPendingBytes && !collecting.IsCompleted)
                {
                    // The next line waits until acknowledgements make room.
                    var room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    Volatile.Write(ref _room, room);
                    if (Interlocked.Read(ref _pendingBytes) > maxPendingBytes)
                    {
                        await Task.WhenAny(room.Task, collecting);
                    }
                }

                if (ack.IsFaulted || _failure is not null)
                {
                    StoppedEarly = true;
                    break;
                }
            }

            try
            {
                await producer.FlushAsync(CancellationToken.None);
            }
            catch (Exception)
            {
                // The records it carried fail with their own exceptions.
            }
        }
        finally
        {
            _pending.Writer.Complete();
            await collecting;
        }
    }

    private Task<RecordAddress> Send(IRecordProducer producer, ProducerRecord record)
    {
        try
        {
            return producer.ProduceAsync(log, partition, record, CancellationToken.None);
        }
        catch (Exception e)
        {
            return Task.FromException<RecordAddress>(e);
        }
    }

    private async Task CollectAsync()
    {
        await Task.Yield();
        var reader = _pending.Reader;
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var pending))
            {
                try
                {
                    var address = await pending.Ack;
                    Acknowledged++;
                    Print(address.ToString());
                }
                catch (Exception e)
                {
                    _failure ??= e;
                    _failed.Add(pending.Line);
                    Print("-");
                }

                Interlocked.Add(ref _pendingBytes, -pending.Bytes);
                Interlocked.Exchange(ref _room, null)?.TrySetResult();
            }

            if (verbose && !_outputClosed)
            {
                try
                {
                    await output.FlushAsync(CancellationToken.None);
                }
                catch (OutputClosedException)
                {
                    OnOutputClosed();
                }
            }
        }
    }

    /// <summary>A <c>--verbose</c> line, until nothing reads stdout; the acknowledgements are still collected after that.</summary>
    private void Print(string line)
    {
        if (!verbose || _outputClosed)
        {
            return;
        }

        try
        {
            output.WriteLine(line);
        }
        catch (OutputClosedException)
        {
            OnOutputClosed();
        }
    }

    private void OnOutputClosed()
    {
        _outputClosed = true;
        _outputGone.Cancel();
    }
}
