using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Record-at-a-time producing onto one partition, as an application does through the client's producer: each
/// <see cref="ProduceAsync"/> completes when its record is committed. Records waiting when a batch slot is free go out
/// together as one idempotent batch (no linger: an idle producer sends a lone record at once), at most
/// <see cref="MaxInFlight"/> batches of at most <see cref="MaxBatchRecords"/> records outstanding (one until the first
/// is acknowledged).
/// </summary>
internal sealed class PyralogBatchingProducer
{
    public const int MaxInFlight = 4;
    public const int MaxBatchRecords = 1000;

    private readonly PyralogPartitionWriter _writer;
    private readonly TimeSpan _attemptTimeout;
    private readonly TimeSpan _deadline;
    private readonly List<(ProducerRecord Record, TaskCompletionSource<ulong> Done)> _queue = [];
    private readonly object _gate = new();
    private long _nextSequence;
    private int _inFlight;
    private bool _established;

    public PyralogBatchingProducer(PyralogPartitionWriter writer, TimeSpan attemptTimeout, TimeSpan deadline)
    {
        _writer = writer;
        _attemptTimeout = attemptTimeout;
        _deadline = deadline;
    }

    /// <summary>Completes with the record's offset once it is committed.</summary>
    public Task<ulong> ProduceAsync(ProducerRecord record)
    {
        var done = new TaskCompletionSource<ulong>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _queue.Add((record, done));
            DispatchLocked();
        }

        return done.Task;
    }

    private void DispatchLocked()
    {
        // The first batch goes alone: a partition takes any sequence from a producer it does not know yet, so a later
        // batch overtaking the first would be appended first and the first refused as too old.
        while (_inFlight < (_established ? MaxInFlight : 1) && _queue.Count > 0)
        {
            var count = Math.Min(MaxBatchRecords, _queue.Count);
            var pending = _queue.GetRange(0, count).ToArray();
            _queue.RemoveRange(0, count);
            var batch = new ProducerBatch(_writer.ProducerId, _nextSequence, [.. pending.Select(p => p.Record)]);
            _nextSequence += count;
            _inFlight++;
            // Issued here, in sequence order (the call runs up to its first await): batches leave in the order numbered.
            _ = SendAsync(batch, pending);
        }
    }

    private async Task SendAsync(ProducerBatch batch, (ProducerRecord Record, TaskCompletionSource<ulong> Done)[] pending)
    {
        try
        {
            var ack = await _writer.SendAsync(batch, _attemptTimeout, _deadline).ConfigureAwait(false);
            Volatile.Write(ref _established, true);
            for (var i = 0; i < pending.Length; i++)
            {
                pending[i].Done.TrySetResult(ack.FirstOffset + (ulong)i);
            }
        }
        catch (Exception e)
        {
            foreach (var p in pending)
            {
                p.Done.TrySetException(e);
            }
        }
        finally
        {
            lock (_gate)
            {
                _inFlight--;
                DispatchLocked();
            }
        }
    }
}
