using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Pyralog.Grains.Diagnostics;
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
/// Idempotent producers' batches: PartitionReplicaGrain.Producing.cs; retention: PartitionReplicaGrain.Retention.cs.
/// </summary>
[Reentrant]
[ReplicaPlacement]
internal sealed partial class PartitionReplicaGrain(
    SiloStore siloStore, ILocalSiloDetails silo, LocalReplicas replicas, CatchUpThrottle catchUp, TimeProvider time, PartitionClock clock, IOptions<PyralogOptions> options,
    ILogger<PartitionReplicaGrain> logger)
    : ReplicaGrain(siloStore, silo, replicas, catchUp, time, options, logger), IPartitionReplicaGrain
{
    /// <summary>The longest a poll waits for records (below Orleans' default 30 s response timeout).</summary>
    public static readonly TimeSpan MaxPollWait = TimeSpan.FromSeconds(20);

    private readonly PartitionClock _clock = clock;
    private PartitionState _state = null!;
    private LogSettings? _settings;

    // This partition's instrument tags, built once (the log id is boxed in them).
    private TagList? _instrumentTags;

    // Invariant: cancelled once Orleans starts to deactivate this activation. Calls waiting for this leader's first
    // apply of its term, for an earlier batch of their producer or for a poll's records end then: a deactivating
    // activation takes no more messages, and such a wait held the deactivation, and with it the partition's leadership,
    // for its whole 10 s timeout (a nemesis run's 11.6 s silence after a SIGKILL elsewhere).
    private readonly CancellationTokenSource _deactivating = new();

    protected override bool IsMetadata => false;

    protected override void OnDeactivationStarted() => _deactivating.Cancel();

    protected override bool SkipSync => _settings?.Durability == LogDurability.OsCache;

    // The commit index reaches the followers with the next append or heartbeat (one tick at most), not in a round of
    // empty appends of its own: one write at a time cost four messages more each (an append and its answer per
    // follower), 4-22 % of produce-rf3-100B-batch1's p50. Consumers read from the leader; a follower's reads see a new
    // record up to a tick later.
    protected override bool BroadcastCommit => false;

    public async Task<AppendAck> AppendAsync(ProducerRecord[] records)
    {
        using var span = ReplicationInstruments.Source.StartActivity("pyralog.partition.append");
        ThrowIfDeleted();
        var settings = await SettingsAsync();
        var payload = RecordBatchCodec.Encode(records, settings.MaxRecordBytes, new BatchHeader(_clock.NowMs, 0, 0));
        var driver = Driver ?? throw new InvalidOperationException($"replica {Key} has no Raft node");
        var started = Time.GetTimestamp();
        var ack = Acknowledged(await driver.ProposeAsync(payload, Key, KeyOf).WaitAsync(Options.Replication.AppendTimeout).ConfigureAwait(true), payload.Length, started);
        EnforceRetention(afterAppend: true);
        return ack;
    }

    public async Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false)
    {
        ThrowIfDeleted();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        await SettingsAsync();
        var driver = Driver ?? throw new InvalidOperationException($"replica {Key} has no Raft node");
        if (linearizable)
        {
            await driver.ReadIndexAsync(Key, KeyOf).WaitAsync(Options.Replication.AppendTimeout).ConfigureAwait(true);
        }
        else
        {
            driver.Wake("read");
        }

        var state = _state;
        if (fromOffset < state.FirstOffset)
        {
            throw new ArgumentOutOfRangeException(nameof(fromOffset), fromOffset,
                $"offset {fromOffset} of partition {Partition} is below the first retained offset {state.FirstOffset} (the records before it were dropped by retention; the first available offset is {state.FirstOffset})");
        }

        if (fromOffset > state.NextOffset)
        {
            throw new ArgumentOutOfRangeException(nameof(fromOffset), fromOffset,
                $"offset {fromOffset} of partition {Partition} is beyond the committed end {state.NextOffset} (replica {Key})");
        }

        var records = new List<CommittedRecord>();
        state.Read(fromOffset, Math.Min(maxBytes, LogSettings.MaxReadBytes), records);
        var next = records.Count == 0 ? fromOffset : records[^1].Offset + 1;
        return new ReadBatch([.. records], next, state.FirstOffset, state.NextOffset);
    }

    public async Task<ReadBatch> PollAsync(ulong fromOffset, int maxBytes, TimeSpan maxWait)
    {
        if (maxWait < TimeSpan.Zero || maxWait > MaxPollWait)
        {
            throw new ArgumentOutOfRangeException(nameof(maxWait), maxWait, $"a poll waits between 0 and {MaxPollWait.TotalSeconds:0} s");
        }

        var started = Time.GetTimestamp();
        while (true)
        {
            var batch = await ReadAsync(fromOffset, maxBytes);
            var left = maxWait - Time.GetElapsedTime(started);
            if (batch.Records.Length > 0 || left <= TimeSpan.Zero || _deactivating.IsCancellationRequested)
            {
                return batch;
            }

            try
            {
                await GrainWait.ForAsync(_state.Changed, left, Time, _deactivating.Token);
            }
            catch (TimeoutException)
            {
                // nothing came: answer empty at the committed end (read again, in case the timer raced an apply)
            }
        }
    }

    public async Task<ulong> FindOffsetAsync(DateTimeOffset at)
    {
        ThrowIfDeleted();
        await SettingsAsync();
        Driver?.Wake("read");
        return _state.FindOffset(at.ToUnixTimeMilliseconds());
    }

    public Task<ReplicaStatus> GetStatusAsync()
    {
        ThrowIfDeleted();
        return Task.FromResult(Status(_state.Epoch, _state.FirstOffset, _state.NextOffset) with
        {
            RetainedBytes = _state.RetainedBytes,
        });
    }

    public async Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap)
    {
        ThrowIfDeleted();
        ArgumentNullException.ThrowIfNull(bootstrap);
        if (_settings is null)
        {
            await SaveSettingsAsync(bootstrap.Settings);
        }

        return await BootstrapGroupAsync(bootstrap.Incarnations);
    }

    public async Task DeleteAsync()
    {
        if (Deleted)
        {
            return;
        }

        SetTicking(false);
        _retentionTimer?.Dispose();
        _retentionTimer = null;
        Driver?.Dispose();
        Deleted = true; // calls still reaching this activation before it goes answer that the log is gone
        await DropDataAsync(tombstone: true);
        Logger.LogInformation("Replica {Key} dropped its data: the log was deleted", Key);
        DeactivateOnIdle();
    }

    public async Task<bool> RetireAsync()
    {
        if (Deleted)
        {
            return true;
        }

        if (!await Replicas.IsRetiredAsync(new ReplicaGrainKey(LogId, Partition, Replica), fresh: true))
        {
            return false; // still a slot of its partition: its data stays
        }

        SetTicking(false);
        _retentionTimer?.Dispose();
        _retentionTimer = null;
        Driver?.Dispose();
        Deleted = true; // calls still reaching this activation before it goes answer that it is gone
        Retired = true;
        await DropDataAsync(tombstone: false);
        Logger.LogInformation("Replica {Key} dropped its data: it moved to another silo", Key);
        DeactivateOnIdle();
        return true;
    }

    protected override async Task OnStorageOpenAsync(CancellationToken cancellationToken)
    {
        _state = await PartitionState.OpenAsync(Store, Storage);

        if (_settings is null && await Store.GetAsync(ReplicaKv.Key(Storage.StoreLog, ReplicaKv.Settings), cancellationToken) is { } saved)
        {
            _settings = LogSettingsCodec.Decode(saved);
        }

        StartRetentionTimer();
    }

    protected override IReplicaStateMachine CreateMachine() => _state;

    protected override IRaftReplicaGrain CreatePeer(int replica) => GrainFactory.GetGrain<IPartitionReplicaGrain>(KeyOf(replica));

    private string KeyOf(int replica) => ReplicaGrainKey.Of(LogId, Partition, replica);

    private AppendAck Acknowledgement(object? answer) =>
        answer is AppendAck ack ? ack : throw new InvalidOperationException($"replica {Key} applied the append but produced no acknowledgement");

    /// <summary>The acknowledgement of a batch this leader appended, counted in the partition's instruments.</summary>
    private AppendAck Acknowledged(object? answer, int bytes, long started)
    {
        var ack = Acknowledgement(answer);
        if (Activity.Current is { Source.Name: ReplicationInstruments.MeterName } span)
        {
            span.SetTag("pyralog.replica", Key);
            span.SetTag("pyralog.epoch", (long)ack.Epoch);
            span.SetTag("pyralog.offset", (long)ack.FirstOffset);
            span.SetTag("pyralog.records", ack.Count);
            span.SetTag("pyralog.duplicate", ack.Duplicate);
        }

        if (!ack.Duplicate)
        {
            var tags = _instrumentTags ??= ReplicationInstruments.PartitionTags(LogId, Partition);
            ReplicationInstruments.AppendedRecords.Add(ack.Count, tags);
            ReplicationInstruments.AppendedBytes.Add(bytes, tags);
            ReplicationInstruments.CommitDuration.Record(Time.GetElapsedTime(started).TotalSeconds, tags);
        }

        return ack;
    }

    /// <summary>
    /// Waits until this replica leads and has applied its own term's first entry, so the producer table holds every
    /// batch committed before its term (see ProducerTable); bounded by the append timeout.
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead (or stopped leading meanwhile).</exception>
    private async Task ThisTermAppliedAsync(ReplicaDriver driver)
    {
        var started = Time.GetTimestamp();
        while (true)
        {
            var node = driver.Node;
            if (node.Role != Consensus.RaftRole.Leader)
            {
                var leader = ReplicaDriver.Replica(node.Leader);
                throw new NotLeaderException(Key, leader < 0 || leader == Replica ? null : KeyOf(leader));
            }

            if (_state.Epoch == (ulong)node.Term)
            {
                return;
            }

            ThrowIfDeactivating();
            driver.Wake("leadership");
            var left = Options.Replication.AppendTimeout - Time.GetElapsedTime(started);
            await GrainWait.ForAsync(_state.Changed, left, Time, _deactivating.Token);
        }
    }

    /// <summary>A batch not yet proposed when the deactivation started is refused as by a replica that no longer leads:
    /// nothing of it was appended, and the producer asks who leads now.</summary>
    private void ThrowIfDeactivating()
    {
        if (_deactivating.IsCancellationRequested)
        {
            throw new NotLeaderException(Key, (string?)null);
        }
    }

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
                if (!log.HasReplica(Partition, Replica))
                {
                    throw new InvalidOperationException(Partition < log.Partitions
                        ? $"log '{log.Name}' has no replica {Key}: partition {Partition}'s replicas are in slots {string.Join(",", log.ReplicaSlots(Partition))}"
                        : $"log '{log.Name}' has {log.Partitions} partitions; there is no replica {Key}");
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
        StartRetentionTimer();
    }
}
