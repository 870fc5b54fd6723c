using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Tests.Partitions;

namespace Pyralog.Silo.Tests.Logs;

/// <summary>
/// The producers and consumers of a nemesis run and what they saw. Each producer (one idempotent
/// <see cref="LogProducer"/>) runs one loop per partition, sending unique values (<c>w{producer}-{partition}-{n}</c>)
/// under random keys that the partitioner maps to that partition, a bounded number in flight per loop (so records
/// stuck on one partition's dead leader never starve the others); every outcome goes into the
/// <see cref="PartitionHistory"/> (acknowledged with its address, or unknown when the producer gave up). Consumers
/// follow every partition from the start through <see cref="LogConsumer"/>.
/// </summary>
internal sealed class NemesisWorkload(IGrainFactory grains, LogInfo log, PartitionHistory history, int seed, int consumers, int inFlight)
{
    private readonly long[] _lastAck = new long[log.Partitions];
    private readonly ConcurrentQueue<(int Producer, long Index, int Partition, ulong Offset, string Value)> _acked = new();
    private readonly List<ObservedRecord>[,] _consumed = NewConsumed(consumers, log.Partitions);
    private readonly CancellationTokenSource _stopConsuming = new();
    private readonly string?[] _lastError = new string?[log.Partitions];
    private long _unknown;
    private long _duplicates;

    public async Task ProduceAsync(int producer, CancellationToken stop)
    {
        var options = new ProducerOptions { Linger = TimeSpan.FromMilliseconds(2), RequestTimeout = TimeSpan.FromSeconds(1), DeliveryTimeout = TimeSpan.FromSeconds(60) };
        await using var client = new LogProducer(grains, options);
        await Task.WhenAll(Enumerable.Range(0, log.Partitions).Select(p => Task.Run(() => ProduceToAsync(client, producer, p, stop))));
        await client.FlushAsync(CancellationToken.None).WaitAsync(TimeSpan.FromMinutes(2));
    }

    private async Task ProduceToAsync(LogProducer client, int producer, int partition, CancellationToken stop)
    {
        var random = new Random((seed * 31) + (producer * 7) + partition);
        using var slots = new SemaphoreSlim(inFlight);
        var pending = new List<Task>();
        long index = 0;
        while (!stop.IsCancellationRequested)
        {
            await slots.WaitAsync(CancellationToken.None);
            var value = $"w{producer}-{partition}-{index}";
            var record = new ProducerRecord(KeyFor(partition, random), Encoding.UTF8.GetBytes(value));
            pending.Add(TrackAsync(producer, index++, value, client.ProduceAsync(log.Name, record, CancellationToken.None), slots));
            if (pending.Count > 4 * inFlight)
            {
                pending.RemoveAll(t => t.IsCompletedSuccessfully);
            }
        }

        await Task.WhenAll(pending);
    }

    /// <summary>A random key the partitioner maps to <paramref name="partition"/>.</summary>
    private byte[] KeyFor(int partition, Random random)
    {
        while (true)
        {
            var key = Encoding.UTF8.GetBytes($"k{random.Next(1_000_000)}");
            if (Client.Logs.Partitioner.ForKey(key, log.Partitions) == partition)
            {
                return key;
            }
        }
    }

    public async Task ConsumeAsync(int consumer, CancellationToken stop)
    {
        var client = new LogConsumer(grains, new ConsumerOptions { MaxWait = TimeSpan.FromSeconds(1) });
        try
        {
            await foreach (var record in client.ConsumeAllAsync(log.Name, ConsumeFrom.Earliest, _stopConsuming.Token))
            {
                var observed = new ObservedRecord(record.Epoch, record.Offset, Encoding.UTF8.GetString(record.Value));
                var list = _consumed[consumer, record.Partition];
                lock (list)
                {
                    list.Add(observed);
                }

                history.RecordRead(new ReadEvent(record.Partition, $"consumer {consumer}", [observed]));
            }
        }
        catch (OperationCanceledException) when (_stopConsuming.IsCancellationRequested)
        {
        }
    }

    public void StopConsuming() => _stopConsuming.Cancel();

    /// <summary>Waits until every partition acknowledged a record after <paramref name="since"/>; returns how long that took from it.</summary>
    /// <exception cref="TimeoutException">Some partition acknowledged nothing within <paramref name="timeout"/> (named).</exception>
    public async Task<TimeSpan> WaitForAcksAfterAsync(long since, TimeSpan timeout, IReadOnlyList<Task> producing)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (producing.FirstOrDefault(p => p.IsFaulted) is { } failed)
            {
                await failed; // the producer's own exception
            }

            var latest = long.MaxValue;
            for (var p = 0; p < _lastAck.Length; p++)
            {
                latest = Math.Min(latest, Volatile.Read(ref _lastAck[p]));
            }

            if (latest > since)
            {
                return Stopwatch.GetElapsedTime(since);
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                var silent = Enumerable.Range(0, _lastAck.Length).Where(p => Volatile.Read(ref _lastAck[p]) <= since);
                throw new TimeoutException($"partitions {string.Join(", ", silent)} acknowledged nothing for {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }

    /// <summary>Waits until every consumer has seen every partition up to <paramref name="ends"/> (offsets).</summary>
    public async Task WaitForConsumersAsync(IReadOnlyDictionary<int, ulong> ends, TimeSpan timeout)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var behind = false;
            for (var c = 0; c < _consumed.GetLength(0) && !behind; c++)
            {
                foreach (var (partition, end) in ends)
                {
                    var list = _consumed[c, partition];
                    lock (list)
                    {
                        behind |= (ulong)list.Count < end;
                    }
                }
            }

            if (!behind)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }

        // Reported by CheckConsumers as what each consumer missed.
    }

    /// <summary>How long <paramref name="partition"/> has acknowledged nothing (0 before its first acknowledgement).</summary>
    private TimeSpan Silence(int partition)
    {
        var last = Volatile.Read(ref _lastAck[partition]);
        return last == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(last);
    }

    /// <summary>Per partition, the longest <see cref="Silence(int)"/> seen, sampled every 20 ms until <paramref name="stop"/>:
    /// how long each partition acknowledged nothing while a fault lasted.</summary>
    public async Task<TimeSpan[]> LongestSilencesAsync(CancellationToken stop)
    {
        var longest = new TimeSpan[_lastAck.Length];
        while (true)
        {
            for (var p = 0; p < longest.Length; p++)
            {
                var silence = Silence(p);
                longest[p] = silence > longest[p] ? silence : longest[p];
            }

            if (stop.IsCancellationRequested)
            {
                return longest;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>The last error a producer gave up with on <paramref name="partition"/> (for a stall's report), or null.</summary>
    public string? LastError(int partition) => Volatile.Read(ref _lastError[partition]);

    public string Summary() =>
        $"{_acked.Count} records acknowledged ({Interlocked.Read(ref _duplicates)} as duplicates of a retry), {Interlocked.Read(ref _unknown)} given up, " +
        $"consumed {string.Join(" / ", Enumerable.Range(0, _consumed.GetLength(0)).Select(c => Enumerable.Range(0, log.Partitions).Sum(p => _consumed[c, p].Count)))}";

    /// <summary>Each producer's acknowledged records of one partition are at increasing offsets in the order it produced them.</summary>
    public IEnumerable<string> CheckOrder()
    {
        foreach (var group in _acked.GroupBy(a => (a.Producer, a.Partition)))
        {
            var ordered = group.OrderBy(a => a.Index).ToList();
            for (var i = 1; i < ordered.Count; i++)
            {
                if (ordered[i].Offset <= ordered[i - 1].Offset)
                {
                    yield return $"[order] producer {group.Key.Producer} partition {group.Key.Partition}: '{ordered[i].Value}' at offset {ordered[i].Offset} " +
                        $"after '{ordered[i - 1].Value}' at offset {ordered[i - 1].Offset}";
                    break;
                }
            }
        }
    }

    /// <summary>Every consumer saw each partition exactly as the final log has it: offsets 0, 1, 2, … with the same values.</summary>
    public IEnumerable<string> CheckConsumers(IReadOnlyDictionary<int, IReadOnlyDictionary<string, IReadOnlyList<ObservedRecord>>> finals)
    {
        for (var c = 0; c < _consumed.GetLength(0); c++)
        {
            foreach (var (partition, replicas) in finals)
            {
                var reference = replicas.Values.MaxBy(r => r.Count)!;
                List<ObservedRecord> seen;
                lock (_consumed[c, partition])
                {
                    seen = [.. _consumed[c, partition]];
                }

                for (var i = 0; i < seen.Count; i++)
                {
                    if (seen[i].Offset != (ulong)i)
                    {
                        yield return $"[consumer] consumer {c} partition {partition}: position {i} is offset {seen[i].Offset} ({seen[i]})";
                        break;
                    }

                    if (i < reference.Count && seen[i].Value != reference[i].Value)
                    {
                        yield return $"[consumer] consumer {c} partition {partition}: saw {seen[i]} but the log holds {reference[i]}";
                        break;
                    }
                }

                if (seen.Count != reference.Count)
                {
                    yield return $"[consumer] consumer {c} partition {partition}: saw {seen.Count} records, the log holds {reference.Count}";
                }
            }
        }
    }

    private async Task TrackAsync(int producer, long index, string value, Task<RecordAck> produce, SemaphoreSlim slots)
    {
        try
        {
            var ack = await produce;
            history.RecordAppend(new AppendEvent(ack.Partition, $"producer {producer}", [value], AppendOutcome.Acknowledged, new AppendAck(ack.Epoch, ack.Offset, 1, ack.Duplicate)));
            _acked.Enqueue((producer, index, ack.Partition, ack.Offset, value));
            if (ack.Duplicate)
            {
                Interlocked.Increment(ref _duplicates);
            }

            Volatile.Write(ref _lastAck[ack.Partition], Stopwatch.GetTimestamp());
        }
        catch (ProduceException e)
        {
            // Given up within the delivery timeout: the record may or may not be in the log (at most once).
            history.RecordAppend(new AppendEvent(e.Partition, $"producer {producer}", [value], AppendOutcome.Unknown));
            Interlocked.Increment(ref _unknown);
            if (e.Partition >= 0 && e.Partition < _lastError.Length)
            {
                Volatile.Write(ref _lastError[e.Partition], $"{DateTime.UtcNow:HH:mm:ss.fff} producer {producer}: {e.Message}");
            }
        }
        finally
        {
            slots.Release();
        }
    }

    private static List<ObservedRecord>[,] NewConsumed(int consumers, int partitions)
    {
        var consumed = new List<ObservedRecord>[consumers, partitions];
        for (var c = 0; c < consumers; c++)
        {
            for (var p = 0; p < partitions; p++)
            {
                consumed[c, p] = [];
            }
        }

        return consumed;
    }
}
