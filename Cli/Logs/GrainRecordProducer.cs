using System.Text;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Logs;

/// <summary>
/// A stand-in for the client's <c>LogProducer</c> until it lands: per partition one append in flight and the records
/// that arrive meanwhile batched behind it; a <see cref="NotLeaderException"/> (nothing appended) is followed to the
/// leader for up to 30 s; any other failure fails the batch (no retry: that could append it twice).
/// </summary>
internal sealed class GrainRecordProducer(IGrainFactory grains, Func<string, Task<LogInfo?>> findLog) : IRecordProducer
{
    private static readonly TimeSpan LeaderTimeout = TimeSpan.FromSeconds(30);
    private const int MaxBatchBytes = 1 << 20;

    private readonly Dictionary<(string Log, int Partition), Queue<(ProducerRecord Record, TaskCompletionSource<RecordAddress> Ack)>> _queues = [];
    private readonly HashSet<(string Log, int Partition)> _sending = [];
    private readonly Dictionary<(string Log, int Partition), string> _leaders = [];
    private readonly List<Task> _senders = [];
    private readonly Queue<(string Log, int? Partition, ProducerRecord Record, TaskCompletionSource<RecordAddress> Ack)> _intake = new();
    private bool _taking;
    private readonly int _sticky = Random.Shared.Next();

    public Task<RecordAddress> ProduceAsync(string log, int? partition, ProducerRecord record, CancellationToken cancellationToken)
    {
        // Into one ordered intake at once: the records of a partition keep the order of the calls.
        var ack = new TaskCompletionSource<RecordAddress>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_queues)
        {
            _intake.Enqueue((log, partition, record, ack));
            if (!_taking)
            {
                _taking = true;
                _senders.Add(Task.Run(TakeAsync));
            }
        }

        return ack.Task.WaitAsync(cancellationToken);
    }

    private async Task TakeAsync()
    {
        while (true)
        {
            (string Log, int? Partition, ProducerRecord Record, TaskCompletionSource<RecordAddress> Ack) next;
            lock (_queues)
            {
                if (!_intake.TryDequeue(out next))
                {
                    _taking = false;
                    return;
                }
            }

            LogInfo? info;
            try
            {
                info = await findLog(next.Log);
            }
            catch (Exception e)
            {
                next.Ack.TrySetException(e);
                continue;
            }

            if (info is null)
            {
                next.Ack.TrySetException(new InvalidOperationException($"no log is named '{next.Log}'"));
                continue;
            }

            var target = next.Partition ?? (next.Record.Key is { } key ? (int)(Fnv1a(key) % (uint)info.Partitions) : _sticky % info.Partitions);
            lock (_queues)
            {
                if (!_queues.TryGetValue((next.Log, target), out var queue))
                {
                    _queues[(next.Log, target)] = queue = new();
                }

                queue.Enqueue((next.Record, next.Ack));
                if (_sending.Add((next.Log, target)))
                {
                    _senders.Add(Task.Run(() => SendAsync(info, target)));
                }
            }
        }
    }

    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task[] senders;
            lock (_queues)
            {
                senders = [.. _senders];
                _senders.Clear();
            }

            if (senders.Length == 0)
            {
                return;
            }

            await Task.WhenAll(senders).WaitAsync(cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => new(FlushAsync(CancellationToken.None));

    private async Task SendAsync(LogInfo info, int partition)
    {
        var slot = (info.Name, partition);
        while (true)
        {
            var batch = new List<(ProducerRecord Record, TaskCompletionSource<RecordAddress> Ack)>();
            lock (_queues)
            {
                var queue = _queues[slot];
                var bytes = 0;
                while (queue.TryPeek(out var next) && (batch.Count == 0 || bytes + next.Record.EncodedBytes <= MaxBatchBytes))
                {
                    bytes += next.Record.EncodedBytes;
                    batch.Add(queue.Dequeue());
                }

                if (batch.Count == 0)
                {
                    _sending.Remove(slot);
                    return;
                }
            }

            try
            {
                var appended = await AppendAsync(info, partition, [.. batch.Select(b => b.Record)]);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Ack.TrySetResult(new RecordAddress(partition, appended.Epoch, appended.FirstOffset + (ulong)i));
                }
            }
            catch (Exception e)
            {
                foreach (var (_, ack) in batch)
                {
                    ack.TrySetException(e);
                }
            }
        }
    }

    private async Task<AppendAck> AppendAsync(LogInfo info, int partition, ProducerRecord[] records)
    {
        var deadline = DateTime.UtcNow + LeaderTimeout;
        string key;
        lock (_leaders)
        {
            key = _leaders.GetValueOrDefault((info.Name, partition)) ?? info.ReplicaKey(partition, 0);
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var ack = await grains.GetGrain<IPartitionReplicaGrain>(key).AppendAsync(records);
                lock (_leaders)
                {
                    _leaders[(info.Name, partition)] = key;
                }

                return ack;
            }
            catch (NotLeaderException e) when (DateTime.UtcNow < deadline)
            {
                if (e.LeaderReplicaKey is { } leader)
                {
                    key = leader;
                }
                else
                {
                    key = info.ReplicaKey(partition, attempt % info.ReplicationFactor);
                    await Task.Delay(TimeSpan.FromMilliseconds(100));
                }
            }
        }
    }

    private static uint Fnv1a(byte[] key)
    {
        var hash = 2166136261u;
        foreach (var b in key)
        {
            hash = (hash ^ b) * 16777619u;
        }

        return hash;
    }
}
