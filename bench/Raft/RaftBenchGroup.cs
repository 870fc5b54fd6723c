using System.Diagnostics;
using Pyralog.Consensus;

namespace Pyralog.Bench.Raft;

/// <summary>
/// A Raft group on one thread with hosts that follow the Ready contract in memory: write each
/// <see cref="PersistBatch"/> to <see cref="MemoryRaftStorage"/> (durable at once, so it is acknowledged at once),
/// hand messages to the peer directly, apply, advance, compact every 64 Ki entries.
/// Counts the objects the steady path is known to allocate (one <see cref="Message"/> per message, one entry array per
/// distinct range of entries sent, per persist batch the batch, its copy of the entries and the list of messages that
/// wait for it) as it routes them, and the bytes those objects take, with object sizes measured at
/// start-up rather than computed; the measured allocated bytes not accounted for by them bound the allocations the
/// count may have missed.
/// </summary>
internal sealed class RaftBenchGroup
{
    private const int PayloadBytes = 100;
    private const int BatchSize = 1024;
    private const int MaxBatchesInFlight = 4;
    private const int CompactEvery = 1 << 16;

    private readonly RaftNode[] _nodes;
    private readonly MemoryRaftStorage[] _storages;
    private readonly Queue<Message> _network = new();
    private readonly ReadOnlyMemory<byte>[] _batch = new ReadOnlyMemory<byte>[BatchSize];
    private readonly long _messageBytes;
    private readonly long _arrayBytes;
    private readonly long _entryBytes;
    private readonly long _batchBytes;
    private readonly long _waitingListBytes;
    private LogEntry[]? _lastCounted;
    private long _applied;
    private long _allocations;
    private long _accountedBytes;

    public RaftBenchGroup(int n)
    {
        var ids = new long[n];
        for (var i = 0; i < n; i++)
        {
            ids[i] = i + 1;
        }

        var config = ClusterConfig.Of(ids);
        _nodes = new RaftNode[n];
        _storages = new MemoryRaftStorage[n];
        for (var i = 0; i < n; i++)
        {
            _storages[i] = MemoryRaftStorage.Bootstrap(config);
            _nodes[i] = new RaftNode(new RaftOptions
            {
                Id = ids[i],
                Storage = _storages[i],
                Random = new SeededRaftRandom((ulong)ids[i]),
                MaxInflightMessages = 256,
            });
        }

        var payloads = new byte[PayloadBytes * BatchSize];
        Random.Shared.NextBytes(payloads);
        for (var i = 0; i < BatchSize; i++)
        {
            _batch[i] = payloads.AsMemory(i * PayloadBytes, PayloadBytes);
        }

        _messageBytes = MeasureBytes(() => new Message { Type = MessageType.Append, To = 1, From = 1, FromIncarnation = 1, Term = 1 });
        var oneEntry = MeasureBytes(() => new LogEntry[1]);
        _entryBytes = MeasureBytes(() => new LogEntry[2]) - oneEntry;
        _arrayBytes = oneEntry - _entryBytes;
        LogEntry[] noEntries = [];
        List<Message> noMessages = [];
        _batchBytes = MeasureBytes(() => new PersistBatch(null, noEntries, default, false, noMessages, default));
        var ack = new Message { Type = MessageType.AppendResponse, To = 1, From = 2, FromIncarnation = 1, Term = 1 };
        _waitingListBytes = MeasureBytes(() => new List<Message> { ack });
    }

    /// <summary>Bytes one object made by <paramref name="make"/> takes on the heap, measured.</summary>
    private static long MeasureBytes(Func<object> make)
    {
        const int count = 1000;
        var keep = new object[count];
        keep[0] = make();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < count; i++)
        {
            keep[i] = make();
        }

        var bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(keep);
        return bytes / count;
    }

    private RaftNode Leader => Array.Find(_nodes, n => n.Role == RaftRole.Leader) ?? throw new InvalidOperationException("no leader");

    public void ElectLeader()
    {
        for (var t = 0; t < 1000 && Array.TrueForAll(_nodes, n => n.Role != RaftRole.Leader); t++)
        {
            foreach (var n in _nodes)
            {
                n.Tick();
            }

            Pump();
        }
    }

    public RaftMeasurement Run(TimeSpan duration, CancellationToken cancellationToken)
    {
        var leader = Leader;
        var process = Process.GetCurrentProcess();
        var startApplied = _applied;
        var startAllocations = _allocations;
        var startAccounted = _accountedBytes;
        var cpu0 = process.TotalProcessorTime;
        var bytes0 = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var rounds = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            if ((++rounds & 63) == 0 && watch.Elapsed >= duration)
            {
                break;
            }

            if (leader.LastIndex - leader.CommitIndex < MaxBatchesInFlight * BatchSize)
            {
                var r = leader.Propose(_batch);
                if (!r.Accepted)
                {
                    throw new InvalidOperationException($"proposal rejected: {r.Status}");
                }
            }

            Pump();
        }

        var wall = watch.Elapsed;
        var bytes = GC.GetAllocatedBytesForCurrentThread() - bytes0;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        return new RaftMeasurement(_applied - startApplied, wall, cpu, _allocations - startAllocations, bytes, _accountedBytes - startAccounted);
    }

    /// <summary>A persist batch: the batch, its copy of the entries, and the list of messages waiting for it.</summary>
    private void CountBatch(PersistBatch batch)
    {
        _allocations++;
        _accountedBytes += _batchBytes;
        if (batch.Entries.Length > 0)
        {
            _allocations++;
            _accountedBytes += _arrayBytes + batch.Entries.Length * _entryBytes;
        }

        if (batch.MessagesAfterPersist.Count > 0)
        {
            _allocations += 2;
            _accountedBytes += _waitingListBytes;
        }
    }

    /// <summary>Queues messages for delivery, counting the objects they are known to allocate.</summary>
    private void Route(IReadOnlyList<Message> messages)
    {
        foreach (var m in messages)
        {
            _network.Enqueue(m);
            _allocations++;
            _accountedBytes += _messageBytes;
            if (m.Entries.Length > 0 && !ReferenceEquals(m.Entries, _lastCounted))
            {
                _lastCounted = m.Entries;
                _allocations++;
                _accountedBytes += _arrayBytes + m.Entries.Length * _entryBytes;
            }
        }
    }

    /// <summary>Every node handles its Ready (persist, send, apply, advance); then queued messages are delivered.</summary>
    private void Pump()
    {
        for (var i = 0; i < _nodes.Length; i++)
        {
            var node = _nodes[i];
            while (node.HasReady)
            {
                var r = node.GetReady();
                var storage = _storages[i];
                var batch = r.ToPersist;
                if (batch is not null)
                {
                    storage.Write(batch);
                    CountBatch(batch);
                }

                Route(r.Messages);
                var committed = r.CommittedEntries;
                if (node.Role == RaftRole.Leader)
                {
                    _applied += committed.Length;
                }

                node.Advance();
                if (batch is not null)
                {
                    node.Persisted(batch.Mark);
                    Route(batch.MessagesAfterPersist);
                }

                if (node.AppliedIndex - node.SnapshotIndex >= CompactEvery)
                {
                    storage.Compact(node.CreateSnapshot(node.AppliedIndex, ReadOnlyMemory<byte>.Empty));
                }
            }
        }

        while (_network.TryDequeue(out var m))
        {
            _nodes[m.To - 1].Step(m);
        }
    }
}
