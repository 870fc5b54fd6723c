using Pyralog.Client.Logs;
using System.Runtime.CompilerServices;
using Pyralog.Cli.Logs;
using Pyralog.Client;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Tests;

/// <summary>
/// A cluster in memory behind the CLI's seam: logs, records appended at epoch 1 with an append time of one second per
/// offset from <see cref="Epoch"/>, a replica per RF on silos <c>127.0.0.1:1111{r}@1</c> (replica 0 leads).
/// </summary>
internal sealed class FakeLogSession : ILogSession
{
    public static readonly DateTimeOffset Epoch = new(2026, 11, 30, 18, 0, 0, TimeSpan.Zero);

    private readonly Dictionary<string, LogInfo> _logs = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Log, int Partition), List<ConsumedRecord>> _records = [];
    private TaskCompletionSource _appended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ulong _nextId = 1;

    public int Connects { get; private set; }

    /// <summary>Set to fail the append of a record: given its value, the exception (or null to append it).</summary>
    public Func<string, Exception?> FailAppend { get; set; } = _ => null;

    /// <summary>When set, records are appended and acknowledged only once this completes.</summary>
    public Task? HoldAcks { get; set; }

    /// <summary>Set to fail reading a partition after this many records of it.</summary>
    public (int Partition, int After)? FailConsume { get; set; }

    /// <summary>Set to replace what describe answers.</summary>
    public LogDescription? Description { get; set; }

    /// <summary>Set to fail the leader's linearizable read of a partition's bounds with it (no replica answers as the leader).</summary>
    public Exception? NoLeader { get; set; }

    /// <summary>The partitions whose bounds were read from their leader.</summary>
    public List<int> BoundsRead { get; } = [];

    /// <summary>Called with the partition after its leader's bounds were read (to append records after that).</summary>
    public Action<int>? AfterBoundsRead { get; set; }

    /// <summary>The first retained offset of a partition (0 unless set): what retention left.</summary>
    public Dictionary<int, ulong> FirstRetained { get; } = [];

    public List<(string Log, int? Partition, ProducerRecord Record)> Produced { get; } = [];

    /// <summary>The options of the last connect.</summary>
    public PyralogClientOptions? Options { get; private set; }

    public LogSessionFactory Factory => (options, _) =>
    {
        Connects++;
        Options = options;
        return Task.FromResult<ILogSession>(this);
    };

    public LogInfo AddLog(string name, int partitions, int rf = 3, LogSettings? settings = null, ulong id = 7)
    {
        var info = new LogInfo(id, name, partitions, rf, settings ?? new LogSettings(), LogState.Active);
        _logs[name] = info;
        for (var p = 0; p < partitions; p++)
        {
            _records[(name, p)] = [];
        }

        return info;
    }

    public RecordAddress Append(string log, int partition, byte[]? key, byte[] value, RecordHeader[]? headers = null)
    {
        lock (_records)
        {
            var records = _records[(log, partition)];
            var offset = (ulong)records.Count;
            records.Add(new ConsumedRecord(log, partition, 1, offset, _nextId++, key, value, headers, Epoch.AddSeconds(offset)));
            var appended = _appended;
            _appended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            appended.SetResult();
            return new RecordAddress(partition, 1, offset);
        }
    }

    public IReadOnlyList<ConsumedRecord> Records(string log, int partition)
    {
        lock (_records)
        {
            return [.. _records[(log, partition)]];
        }
    }

    public Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings settings)
    {
        if (_logs.TryGetValue(name, out var existing))
        {
            return existing.Partitions == partitions && existing.ReplicationFactor == replicationFactor
                ? Task.FromResult(existing)
                : Task.FromException<LogInfo>(new InvalidOperationException(
                    $"cannot create log '{name}' with {partitions} partitions, RF {replicationFactor}: log '{name}' exists with {existing.Partitions} partitions, RF {existing.ReplicationFactor}"));
        }

        return Task.FromResult(AddLog(name, partitions, replicationFactor, settings, id: (ulong)_logs.Count + 1));
    }

    public Task DeleteLogAsync(string name)
    {
        _logs.Remove(name);
        return Task.CompletedTask;
    }

    public Task<LogInfo[]> ListLogsAsync() => Task.FromResult(_logs.Values.ToArray());

    public Task<LogInfo?> FindLogAsync(string name) => Task.FromResult(_logs.GetValueOrDefault(name));

    public Task<LogDescription> DescribeLogAsync(string name)
    {
        if (Description is { } description)
        {
            return Task.FromResult(description);
        }

        var info = _logs[name];
        var partitions = new PartitionDescription[info.Partitions];
        for (var p = 0; p < info.Partitions; p++)
        {
            var next = (ulong)Records(name, p).Count;
            var replicas = Enumerable.Range(0, info.ReplicationFactor)
                .Select(r => new ReplicaDescription(r, info.ReplicaKey(p, r), $"127.0.0.1:1111{r}@1", r == 0 ? ReplicaRole.Leader : ReplicaRole.Follower, next, 0, null))
                .ToArray();
            partitions[p] = new PartitionDescription(p, 0, "127.0.0.1:11110@1", 1, FirstRetained.GetValueOrDefault(p), next, replicas, false);
        }

        return Task.FromResult(new LogDescription(info, partitions));
    }

    public Task<ulong> FindOffsetAsync(LogInfo log, int partition, DateTimeOffset time, CancellationToken cancellationToken)
    {
        var records = Records(log.Name, partition);
        return Task.FromResult(records.FirstOrDefault(r => r.AppendTime >= time)?.Offset ?? (ulong)records.Count);
    }

    public Task<PartitionBounds> ReadBoundsAsync(LogInfo log, int partition, CancellationToken cancellationToken)
    {
        BoundsRead.Add(partition);
        if (NoLeader is { } failure)
        {
            return Task.FromException<PartitionBounds>(failure);
        }

        var bounds = new PartitionBounds(FirstRetained.GetValueOrDefault(partition), (ulong)Records(log.Name, partition).Count);
        AfterBoundsRead?.Invoke(partition);
        return Task.FromResult(bounds);
    }

    public IRecordProducer CreateProducer() => new FakeRecordProducer(this);

    public async IAsyncEnumerable<ConsumedRecord> ConsumeAsync(string log, int partition, ConsumeStart from, ulong? end, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var records = Records(log, partition);
        var next = from.Kind switch
        {
            ConsumeStartKind.Earliest => 0,
            ConsumeStartKind.Latest => records.Count,
            ConsumeStartKind.Offset => (int)from.Offset,
            _ => throw new InvalidOperationException("the CLI resolves times to offsets"),
        };
        var served = 0;
        while (true)
        {
            Task appended;
            lock (_records)
            {
                appended = _appended.Task;
                records = Records(log, partition);
            }

            for (; next < records.Count; next++)
            {
                if ((ulong)next >= end)
                {
                    yield break;
                }

                if (FailConsume == (partition, served++))
                {
                    throw new TimeoutException($"Response did not arrive on time in 00:00:30 for partition {partition}");
                }

                yield return records[next];
            }

            if ((ulong)next >= end)
            {
                yield break;
            }

            await appended.WaitAsync(cancellationToken);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
