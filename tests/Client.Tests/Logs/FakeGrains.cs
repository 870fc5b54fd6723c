using Orleans.Runtime;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Testing;

namespace Pyralog.Client.Tests.Logs;

/// <summary>
/// A grain factory for unit tests without a cluster: an admin grain holding logs, partition replicas whose answers the
/// test scripts (<see cref="OnProduce"/>), and obelisks handing out consecutive IDs. Every request is recorded.
/// </summary>
internal sealed class FakeGrains : ScriptedGrainFactory
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, LogInfo> _logs = [];
    private readonly List<ProduceCall> _calls = [];
    private readonly Dictionary<(int Partition, long Producer, long Sequence), AppendAck> _appended = [];
    private readonly Dictionary<int, ulong> _nextOffset = [];
    private ulong _nextId = 1UL << 40;
    private int _logReads;

    public FakeGrains(params LogInfo[] logs)
    {
        foreach (var log in logs)
        {
            _logs[log.Name] = log;
        }

        OnProduce = call => Task.FromResult(Append(call));
    }

    /// <summary>How a replica answers an idempotent batch (default: the leader appends at dense offsets of its partition).</summary>
    public Func<ProduceCall, Task<AppendAck>> OnProduce { get; set; }

    /// <summary>What a leader does with a batch: appends it at the partition's next offsets, or answers Duplicate for one it holds.</summary>
    public AppendAck Append(ProduceCall call)
    {
        var partition = ReplicaGrainKey.Parse(call.ReplicaKey).Partition;
        lock (_gate)
        {
            if (_appended.TryGetValue((partition, call.Batch.ProducerId, call.Batch.FirstSequence), out var original))
            {
                return original with { Duplicate = true };
            }

            var first = _nextOffset.GetValueOrDefault(partition);
            _nextOffset[partition] = first + (ulong)call.Batch.Records.Length;
            var ack = new AppendAck(1, first, call.Batch.Records.Length);
            _appended[(partition, call.Batch.ProducerId, call.Batch.FirstSequence)] = ack;
            return ack;
        }
    }

    /// <summary>How a replica answers a read (replica key, from offset); unset: not supported.</summary>
    public Func<string, ulong, Task<ReadBatch>>? OnRead { get; set; }

    /// <summary>How a replica answers a linearizable read (replica key, from offset); unset: as <see cref="OnRead"/>.</summary>
    public Func<string, ulong, Task<ReadBatch>>? OnLinearizableRead { get; set; }

    /// <summary>How a replica finds the first offset appended at or after a time (replica key, time); unset: not supported.</summary>
    public Func<string, DateTimeOffset, Task<ulong>>? OnFindOffset { get; set; }

    /// <summary>How the metadata group answers a lookup of a log by name; unset: from the logs this fake holds.</summary>
    public Func<string, Task<LogInfo?>>? OnGetLog { get; set; }

    /// <summary>How a replica reports its status (replica key); unset: not supported.</summary>
    public Func<string, Task<ReplicaStatus>>? OnStatus { get; set; }

    public static LogInfo Log(string name, int partitions, int replicationFactor = 3, ulong id = 7, int maxRecordBytes = LogSettings.DefaultMaxRecordBytes) =>
        new(id, name, partitions, replicationFactor, new LogSettings { MaxRecordBytes = maxRecordBytes }, LogState.Active);

    public ProduceCall[] Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    public void Delete(string name)
    {
        lock (_gate)
        {
            _logs.Remove(name);
        }
    }

    /// <summary>Creates or changes a log (what the metadata group answers from now on).</summary>
    public void Put(LogInfo log)
    {
        lock (_gate)
        {
            _logs[log.Name] = log;
        }
    }

    /// <summary>How many times the admin grain was asked for a log by name.</summary>
    public int LogReads
    {
        get
        {
            lock (_gate)
            {
                return _logReads;
            }
        }
    }

    public override TGrainInterface GetGrain<TGrainInterface>(string primaryKey, string? grainClassNamePrefix = null) =>
        typeof(TGrainInterface) == typeof(IPartitionReplicaGrain)
            ? (TGrainInterface)(object)new Replica(this, primaryKey)
            : base.GetGrain<TGrainInterface>(primaryKey, grainClassNamePrefix);

    public override TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string? grainClassNamePrefix = null) =>
        typeof(TGrainInterface) == typeof(IPyralogAdminGrain) ? (TGrainInterface)(object)new Admin(this)
        : typeof(TGrainInterface) == typeof(IObeliskGrain) ? (TGrainInterface)(object)new Obelisk(this)
        : base.GetGrain<TGrainInterface>(primaryKey, grainClassNamePrefix);

    /// <summary>One ProduceAsync as the replica <see cref="ReplicaKey"/> received it.</summary>
    public sealed record ProduceCall(string ReplicaKey, ProducerBatch Batch);

    private sealed class Admin(FakeGrains grains) : IPyralogAdminGrain
    {
        public Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings? settings = null) => throw new NotSupportedException();

        public Task DeleteLogAsync(string name) => throw new NotSupportedException();

        public Task<LogInfo[]> ListLogsAsync()
        {
            lock (grains._gate)
            {
                return Task.FromResult(grains._logs.Values.ToArray());
            }
        }

        public Task<LogInfo?> GetLogAsync(string name)
        {
            lock (grains._gate)
            {
                grains._logReads++;
                if (grains.OnGetLog is { } answer)
                {
                    return answer(name);
                }

                return Task.FromResult(grains._logs.GetValueOrDefault(name));
            }
        }

        public Task<LogDescription> DescribeLogAsync(string name) => throw new NotSupportedException();

        public Task<PartitionDescription> DescribeMetadataGroupAsync() => throw new NotSupportedException();

        public Task<SiloDrainResult> DrainSiloAsync(string silo, bool drain) => throw new NotSupportedException();

        public Task<string[]> DrainingSilosAsync() => throw new NotSupportedException();

        public Task<SiloDrainStates> DrainStatesAsync() => throw new NotSupportedException();
    }

    private sealed class Obelisk(FakeGrains grains) : IObeliskGrain
    {
        public Task<ScarabId> NextAsync() => throw new NotSupportedException();

        public Task<ScarabIdBlock> NextBlockAsync(int count)
        {
            lock (grains._gate)
            {
                var first = grains._nextId;
                grains._nextId += (ulong)count;
                return Task.FromResult(new ScarabIdBlock(new ScarabId(first), count));
            }
        }

        public Task<ObeliskStatus> GetStatusAsync() => throw new NotSupportedException();
    }

    private sealed class Replica(FakeGrains grains, string key) : IPartitionReplicaGrain
    {
        public Task<AppendAck> ProduceAsync(ProducerBatch batch)
        {
            var call = new ProduceCall(key, batch);
            lock (grains._gate)
            {
                grains._calls.Add(call);
            }

            return grains.OnProduce(call);
        }

        public Task<AppendAck> AppendAsync(ProducerRecord[] records) => throw new NotSupportedException();

        public Task<ReadBatch> PollAsync(ulong fromOffset, int maxBytes, TimeSpan maxWait) => throw new NotSupportedException();

        public Task<ulong> FindOffsetAsync(DateTimeOffset time) =>
            grains.OnFindOffset is { } find ? find(key, time) : throw new NotSupportedException();

        public Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false) =>
            (linearizable ? grains.OnLinearizableRead ?? grains.OnRead : grains.OnRead) is { } read ? read(key, fromOffset) : throw new NotSupportedException();

        public Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap) => throw new NotSupportedException();

        public Task DeleteAsync() => throw new NotSupportedException();

        public Task<string?> AddReplicaAsync(int replica, long incarnation) => throw new NotSupportedException();

        public Task<string?> RemoveReplicaAsync(int replica, int successor, int keep) => throw new NotSupportedException();

        public Task<string?> RemoveReplicaAsync(int replica, int successor) => throw new NotSupportedException();

        public Task<bool> RetireAsync() => throw new NotSupportedException();

        public Task<ReplicaStatus> GetStatusAsync() =>
            grains.OnStatus is { } status ? status(key) : throw new NotSupportedException();

        public Task DeliverAsync(RaftEnvelope envelope) => throw new NotSupportedException();

        public Task DeliverConfirmedAsync(RaftEnvelope envelope) => throw new NotSupportedException();

        public Task<ReplicaPrepared> PrepareAsync() => throw new NotSupportedException();

        public Task ReturnHomeAsync() => throw new NotSupportedException();

        public Task<bool> HandLeadershipToAsync(int replica) => throw new NotSupportedException();

        public Task<bool> MayLeaveAsync(int replica) => throw new NotSupportedException();
    }
}
