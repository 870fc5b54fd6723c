using Pyralog.Cli.Input;
using Pyralog.Cli.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>
/// One <c>pyralog produce</c>: reads lines, sends each as a record, and collects the acknowledgements in input order,
/// waiting for the oldest before reading further when too many records or bytes are unacknowledged. Reading stops at the
/// first record that failed.
/// </summary>
internal sealed class ProduceRun(string log, int? partition, byte[]? key, int maxRecordBytes, bool verbose, TextWriter output)
{
    /// <summary>Records waiting for their acknowledgement before the input is read further.</summary>
    private const int MaxPending = 16_384;

    /// <summary>Bytes of records waiting for their acknowledgement before the input is read further.</summary>
    private const long MaxPendingBytes = 64L << 20;

    private readonly Queue<(long Line, int Bytes, Task<RecordAddress> Ack)> _pending = new();
    private readonly List<long> _failed = [];
    private long _pendingBytes;

    public long Read { get; private set; }

    public long Acknowledged { get; private set; }

    public Exception? Failure { get; private set; }

    public bool StoppedEarly { get; private set; }

    public IReadOnlyList<long> Failed => _failed;

    /// <summary>
    /// Sends every line until the input ends, a record fails, or <paramref name="stopReading"/> (Ctrl+C) ends the input
    /// like an end of file: the records read so far are still sent and waited for.
    /// </summary>
    public async Task SendAsync(IRecordProducer producer, LineReader reader, CancellationToken stopReading)
    {
        while (await ReadLineAsync(reader, stopReading) is { } line)
        {
            Read++;
            var record = new ProducerRecord(key, line);
            var bytes = record.EncodedBytes;
            var ack = bytes > maxRecordBytes
                ? Task.FromException<RecordAddress>(new ArgumentException(
                    $"line {Read} is a record of {bytes} bytes encoded, over the {maxRecordBytes} bytes log '{log}' accepts"))
                : Send(producer, record);
            _pending.Enqueue((Read, bytes, ack));
            _pendingBytes += bytes;
            // The first record alone: the client's producer looks the log up on its first record, and records produced
            // while that lookup runs may be admitted out of order (LogProducer at 36a163a); after it, order is kept.
            while (_pending.Count > 0 && (Read == 1 || _pending.Peek().Ack.IsCompleted || _pending.Count > MaxPending || _pendingBytes > MaxPendingBytes))
            {
                await CollectOneAsync();
            }

            if (Failure is not null || ack.IsFaulted)
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

        while (_pending.Count > 0)
        {
            await CollectOneAsync();
        }
    }

    private static async Task<byte[]?> ReadLineAsync(LineReader reader, CancellationToken stopReading)
    {
        try
        {
            // WaitAsync too: a read of a pipe or terminal does not always honour the token.
            return await reader.ReadLineAsync(stopReading).AsTask().WaitAsync(stopReading);
        }
        catch (OperationCanceledException) when (stopReading.IsCancellationRequested)
        {
            return null;
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

    private async Task CollectOneAsync()
    {
        var (line, bytes, ack) = _pending.Dequeue();
        _pendingBytes -= bytes;
        try
        {
            var address = await ack;
            Acknowledged++;
            if (verbose)
            {
                output.WriteLine(address.ToString());
            }
        }
        catch (Exception e)
        {
            Failure ??= e;
            _failed.Add(line);
            if (verbose)
            {
                output.WriteLine("-");
            }
        }
    }
}
