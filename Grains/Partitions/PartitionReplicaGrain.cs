using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Placement;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Partitions;

/// <summary>
/// One replica of a partition (see <see cref="IPartitionReplicaGrain"/>; the machinery is <see cref="ReplicaGrain"/>).
/// Reentrant: an append waits for its commit while the same activation keeps stepping the messages that commit it.
/// The log's settings (durability, record limit) arrive with the founding configuration and are kept beside the Raft
/// state; a replica that joins later without data reads them from the metadata group when it first needs them.
/// </summary>
[Reentrant]
[ReplicaPlacement]
internal sealed class PartitionReplicaGrain(SiloStore siloStore, ILocalSiloDetails silo, LocalReplicas replicas, IOptions<PyralogOptions> options, ILogger<PartitionReplicaGrain> logger)
    : ReplicaGrain(siloStore, silo, replicas, options, logger), IPartitionReplicaGrain
{
    private PartitionState _state = null!;
    private LogSettings? _settings;

    protected override bool IsMetadata => false;

    protected override bool SkipSync => _settings?.Durability == LogDurability.OsCache;

    public async Task<AppendAck> AppendAsync(ProducerRecord[] records)
    {
        var settings = await SettingsAsync();
        var payload = RecordBatchCodec.Encode(records, settings.MaxRecordBytes);
        var driver = Driver ?? throw new InvalidOperationException($"replica {Key} has no Raft node");
        var answer = await driver.ProposeAsync(payload, Key, KeyOf).WaitAsync(Options.Replication.AppendTimeout).ConfigureAwait(true);
        return answer is AppendAck ack ? ack : throw new InvalidOperationException($"replica {Key} applied the append but produced no acknowledgement");
    }

    public async Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        await SettingsAsync();
        var driver = Driver ?? throw new InvalidOperationException($"replica {Key} has no Raft node");
        if (linearizable)
        {
            await driver.ReadIndexAsync(Key, KeyOf).WaitAsync(Options.Replication.AppendTimeout).ConfigureAwait(true);
        }
        else
        {
            driver.Wake();
        }

        var state = _state;
        if (fromOffset < state.FirstOffset)
        {
            throw new ArgumentOutOfRangeException(nameof(fromOffset), fromOffset,
                $"offset {fromOffset} of partition {Partition} is below the first retained offset {state.FirstOffset}");
        }

        if (fromOffset > state.NextOffset)
        {
            throw new ArgumentOutOfRangeException(nameof(fromOffset), fromOffset,
                $"offset {fromOffset} of partition {Partition} is beyond the committed end {state.NextOffset} (replica {Key})");
        }

        var records = new List<CommittedRecord>();
        state.Read(fromOffset, maxBytes, records);
        var next = records.Count == 0 ? fromOffset : records[^1].Offset + 1;
        return new ReadBatch([.. records], next, state.FirstOffset, state.NextOffset);
    }

    public Task<ReplicaStatus> GetStatusAsync() => Task.FromResult(Status(_state.Epoch, _state.FirstOffset, _state.NextOffset));

    public async Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap)
    {
        ArgumentNullException.ThrowIfNull(bootstrap);
        if (_settings is null)
        {
            await SaveSettingsAsync(bootstrap.Settings);
        }

        return await BootstrapGroupAsync(bootstrap.Incarnations);
    }

    public async Task DeleteAsync()
    {
        SetTicking(false);
        Driver?.Dispose();
        using var write = new WriteBatch();
        Storage.DeleteAll(write);
        if (write.Count > 0)
        {
            await Store.WriteAsync(write);
        }

        Logger.LogInformation("Replica {Key} dropped its data: the log was deleted", Key);
        DeactivateOnIdle();
    }

    protected override async Task OnStorageOpenAsync(CancellationToken cancellationToken)
    {
        _state = await PartitionState.LoadAsync(Store, Storage.StoreLog);
        if (_settings is null && await Store.GetAsync(ReplicaKv.Key(Storage.StoreLog, ReplicaKv.Settings), cancellationToken) is { } saved)
        {
            _settings = LogSettingsCodec.Decode(saved);
        }
    }

    protected override IReplicaStateMachine CreateMachine() => _state;

    protected override Task SendTo(int replica, RaftEnvelope envelope) =>
        GrainFactory.GetGrain<IPartitionReplicaGrain>(KeyOf(replica)).DeliverAsync(envelope);

    private string KeyOf(int replica) => ReplicaGrainKey.Of(LogId, Partition, replica);

    /// <summary>The log's settings; a replica that joined without data asks the metadata group once (and fails clearly for an unknown log).</summary>
    private async Task<LogSettings> SettingsAsync()
    {
        if (_settings is { } known)
        {
            return known;
        }

        var logs = await GrainFactory.GetGrain<IPyralogAdminGrain>(0).ListLogsAsync();
        foreach (var log in logs)
        {
            if (log.Id == LogId)
            {
                if (Partition >= log.Partitions || Replica >= log.ReplicationFactor)
                {
                    throw new InvalidOperationException(
                        $"log '{log.Name}' has {log.Partitions} partitions of {log.ReplicationFactor} replicas; there is no replica {Key}");
                }

                await SaveSettingsAsync(log.Settings);
                return log.Settings;
            }
        }

        throw new InvalidOperationException($"no log has id {LogId} (never created, or deleted): replica {Key} does not exist");
    }

    private async Task SaveSettingsAsync(LogSettings settings)
    {
        using var write = new WriteBatch();
        write.Put(ReplicaKv.Key(Storage.StoreLog, ReplicaKv.Settings), LogSettingsCodec.Encode(settings));
        await Store.WriteAsync(write);
        _settings = settings;
    }
}
