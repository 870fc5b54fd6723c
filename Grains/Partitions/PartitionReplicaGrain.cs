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
/// Idempotent producers' batches are checked here before they are proposed (ProducerTable explains why that suffices).
/// Retention: the leader of a log with a retention age or size checks, on a grain timer every
/// <see cref="PartitionClock.RetentionCheckInterval"/> (and after an append that puts it well over its size limit), where the partition should start
/// (records older than the age by the <see cref="PartitionClock"/>, the oldest entries beyond the size) and proposes
/// a retention command; every replica applies it and compacts its log (PartitionState, ReplicaDriver). At most one
/// such proposal is in flight; a leader that lost its term simply has it fail, and the next leader decides again.
/// </summary>
[Reentrant]
[ReplicaPlacement]
internal sealed class PartitionReplicaGrain(
    SiloStore siloStore, ILocalSiloDetails silo, LocalReplicas replicas, CatchUpThrottle catchUp, TimeProvider time, PartitionClock clock, IOptions<PyralogOptions> options,
    ILogger<PartitionReplicaGrain> logger)
    : ReplicaGrain(siloStore, silo, replicas, catchUp, time, options, logger), IPartitionReplicaGrain
{
    /// <summary>The longest a poll waits for records (below Orleans' default 30 s response timeout).</summary>
    public static readonly TimeSpan MaxPollWait = TimeSpan.FromSeconds(20);

    /// <summary>About the most record bytes one retention command drops (each replica replays them to take its snapshot).</summary>
    public const ulong MaxRetentionStepBytes = 256 << 20;

    // The idempotent batches this activation proposed that have not resolved yet.
    private readonly ProducerBatchesInFlight _producing = new();

    // Orleans does not promise that requests arrive in the order they were sent (under load one batch in a few hundred
    // overtook the one before it, through the gateway), so a batch ahead of its producer's sequence waits up to this long
    // for the batches before it instead of being refused at once: a refusal costs the producer a drained pipeline.
    private static readonly TimeSpan OvertakenWait = TimeSpan.FromMilliseconds(200);

    // Completed (and replaced) when a batch is proposed while batches ahead of their sequence wait; those wait on it.
    // Invariant: _aheadWaiting counts the ProduceAsync calls awaiting it.
    private TaskCompletionSource _sequenceAdvanced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _aheadWaiting;
    private PartitionState _state = null!;
    private LogSettings? _settings;

    // This partition's instrument tags, built once (the log id is boxed in them).
    private TagList? _instrumentTags;

    // Invariant: non-null exactly while the log's settings (known) have a retention age or size and the replica is not deleted.
    private IGrainTimer? _retentionTimer;

    // Invariant: the retention command this activation proposed last, until it resolves or the append timeout passes
    // (at most one in flight, short of a stuck one: a second command is harmless, first offsets never move back).
    private Task<object?>? _retaining;

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
        var payload = RecordBatchCodec.Encode(records, settings.MaxRecordBytes, new BatchHeader(clock.NowMs, 0, 0));
        var driver = Driver ?? throw new InvalidOperationException($"replica {Key} has no Raft node");
        var started = Time.GetTimestamp();
        var ack = Acknowledged(await driver.ProposeAsync(payload, Key, KeyOf).WaitAsync(Options.Replication.AppendTimeout).ConfigureAwait(true), payload.Length, started);
        EnforceRetention(afterAppend: true);
        return ack;
    }

    public async Task<AppendAck> ProduceAsync(ProducerBatch batch)
    {
        using var span = ReplicationInstruments.Source.StartActivity("pyralog.partition.append");
        ThrowIfDeleted();
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.ProducerId == 0)
        {
            throw new ArgumentException("an idempotent batch needs a producer id (0 means none)", nameof(batch));
        }

        if (batch.FirstSequence < 0)
        {
            throw new ArgumentException($"producer {batch.ProducerId} sent sequence {batch.FirstSequence}: sequences start at 0", nameof(batch));
        }

        var settings = await SettingsAsync();
        var payload = RecordBatchCodec.Encode(batch.Records, settings.MaxRecordBytes,
            new BatchHeader(clock.NowMs, batch.ProducerId, batch.FirstSequence));
        var driver = Driver ?? throw new InvalidOperationException($"replica {Key} has no Raft node");
        var started = Time.GetTimestamp();
        await ThisTermAppliedAsync(driver);

        Task<object?>? proposal;
        long? aheadSince = null; // the clock is read only for a batch that found itself ahead
        while (true)
        {
            ThrowIfDeactivating();

            // From the check to the proposal no await: they are one turn.
            var refuseAhead = aheadSince is { } since && Time.GetElapsedTime(since) >= OvertakenWait;
            proposal = ProposeInSequence(driver, batch.ProducerId, batch.FirstSequence, batch.Records.Length, payload, refuseAhead, out var duplicateOf);
            if (duplicateOf is { } original)
            {
                return original;
            }

            if (proposal is not null)
            {
                break;
            }

            aheadSince ??= Time.GetTimestamp();
            await SequenceAdvancedAsync(OvertakenWait - Time.GetElapsedTime(aheadSince.Value));
            await ThisTermAppliedAsync(driver); // leadership may have been lost and won again meanwhile
        }

        var remaining = Options.Replication.AppendTimeout - Time.GetElapsedTime(started);
        var answer = await proposal!.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, Time).ConfigureAwait(true);
        var ack = Acknowledged(answer, payload.Length, started);
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

    /// <summary>Starts checking retention (while this activation lives) once the log's settings ask for it.</summary>
    private void StartRetentionTimer()
    {
        if (_retentionTimer is not null || Deleted || _settings is not ({ RetentionAge: not null } or { RetentionBytes: not null }))
        {
            return;
        }

        var interval = clock.RetentionCheckInterval;
        _retentionTimer = this.RegisterGrainTimer(
            static (grain, _) =>
            {
                grain.EnforceRetention(afterAppend: false);
                return Task.CompletedTask;
            },
            this,
            new GrainTimerCreationOptions(interval, interval) { Interleave = true, KeepAlive = false });
    }

    /// <summary>
    /// Leader: proposes a retention command when records are older than the retention age or the partition holds
    /// more than the retention bytes (nothing when neither applies, another is in flight, or its term's first entry is
    /// not applied yet: the state must include every earlier leader's records). After an append only the size is
    /// checked, and only once it exceeds the limit by a sixteenth: a partition at its limit would otherwise add a
    /// command and a compaction per append; the timer's check brings it back to the limit itself.
    /// </summary>
    private void EnforceRetention(bool afterAppend)
    {
        if (Deleted || _settings is not { } settings || (settings.RetentionAge is null && settings.RetentionBytes is null) ||
            Driver is not { } driver || _retaining is { IsCompleted: false })
        {
            return;
        }

        var node = driver.Node;
        if (node.Role != Consensus.RaftRole.Leader || _state.Epoch != (ulong)node.Term)
        {
            return;
        }

        if (afterAppend && (settings.RetentionBytes is not { } limit || _state.RetainedBytes <= (ulong)(limit + (limit / 16))))
        {
            return;
        }

        long? cutoff = settings.RetentionAge is { } age && !afterAppend ? clock.NowMs - (long)age.TotalMilliseconds : null;
        var retainFrom = _state.RetentionPoint(cutoff, settings.RetentionBytes, MaxRetentionStepBytes, out var capped);
        if (retainFrom <= _state.FirstOffset)
        {
            return;
        }

        Task<object?> proposal;
        try
        {
            proposal = driver.ProposeAsync(RetentionCommand.Encode(retainFrom), Key, KeyOf);
        }
        catch (Exception e) when (e is NotLeaderException or InvalidOperationException or ObjectDisposedException)
        {
            return; // the next check (or the next leader) decides again
        }

        Logger.LogDebug("Replica {Key} retains partition {Partition} from offset {Offset} (was {First})", Key, Partition, retainFrom, _state.FirstOffset);
        _retaining = proposal.WaitAsync(Options.Replication.AppendTimeout, Time); // a proposal stuck with a lost term blocks no later check
        _ = ResolveRetentionAsync(_retaining, capped);
    }

    /// <summary>
    /// Observes a retention command's outcome; when the step was capped (it drops at most about
    /// <see cref="MaxRetentionStepBytes"/>), checks again as soon as it is applied.
    /// </summary>
    private async Task ResolveRetentionAsync(Task<object?> proposal, bool capped)
    {
        try
        {
            await proposal.ConfigureAwait(true);
        }
        catch (Exception)
        {
            return; // not committed (deposed, timed out, deactivated): the next check decides again
        }

        if (capped)
        {
            EnforceRetention(afterAppend: false);
        }
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

    /// <summary>
    /// Checks an idempotent batch against what was applied and what this leader has in flight, then proposes it if it
    /// is the next one. Returns the proposal, or null with <paramref name="duplicateOf"/> set when the partition already
    /// holds the batch (a batch still in flight is awaited and answered with its outcome), or null with nothing set when
    /// the batch is ahead of its producer's sequence and <paramref name="refuseAhead"/> is false (it may wait for the
    /// batches before it).
    /// </summary>
    /// <exception cref="ProducerSequenceException">
    /// The batch is ahead of its producer's sequence (and <paramref name="refuseAhead"/>), too old to tell, or from a
    /// producer this partition does not remember (neither applied nor in flight here) at a sequence other than 0.
    /// </exception>
    private Task<object?>? ProposeInSequence(ReplicaDriver driver, long producerId, long firstSequence, int count, byte[] payload, bool refuseAhead, out AppendAck? duplicateOf)
    {
        duplicateOf = null;
        var check = _state.Producers.Check(producerId, firstSequence, count, out var original, out var expected);
        var term = driver.Node.Term;
        if (_producing.Refine(producerId, firstSequence, count, term, ref check, ref expected) is { } inFlight)
        {
            return AsDuplicate(inFlight);
        }

        switch (check)
        {
            case SequenceCheck.Duplicate:
                duplicateOf = original;
                return null;
            case SequenceCheck.Ahead when !refuseAhead:
                return null;
            case SequenceCheck.Ahead or SequenceCheck.TooOld:
                throw new ProducerSequenceException(Key, producerId, firstSequence, expected, check == SequenceCheck.TooOld);
            case SequenceCheck.UnknownProducer:
                throw ProducerSequenceException.ForUnknownProducer(Key, Partition, producerId, firstSequence);
        }

        var proposal = driver.ProposeAsync(payload, Key, KeyOf);
        _producing.Add(producerId, firstSequence, count, term, proposal);
        _ = ForgetWhenResolvedAsync(producerId, proposal);
        if (_aheadWaiting > 0)
        {
            var advanced = _sequenceAdvanced;
            _sequenceAdvanced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            advanced.SetResult();
        }

        return proposal;
    }

    /// <summary>Waits until a batch is proposed here, or <paramref name="left"/> passes.</summary>
    private async Task SequenceAdvancedAsync(TimeSpan left)
    {
        _aheadWaiting++;
        try
        {
            await GrainWait.ForAsync(_sequenceAdvanced.Task, left, Time, _deactivating.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }
        finally
        {
            _aheadWaiting--;
        }
    }

    private static async Task<object?> AsDuplicate(Task<object?> proposal)
    {
        var answer = await proposal.ConfigureAwait(true);
        return answer is AppendAck ack ? ack with { Duplicate = true } : answer;
    }

    private async Task ForgetWhenResolvedAsync(long producerId, Task<object?> proposal)
    {
        await ((Task)proposal).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        _producing.Forget(producerId, proposal);
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
