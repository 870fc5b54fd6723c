using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Consensus;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Replication;

/*
 * What every replica grain (a partition's, the metadata group's) shares: it opens its state in the silo's store,
 * runs a RaftNode through a ReplicaDriver, ticks from a grain timer while its group is active, and sends Raft
 * messages as one-way calls to the other replicas' grains.
 *
 * Incarnations: a replica that activates without any state here (the first time, or on a silo that does not hold its
 * data) takes a fresh incarnation, a Scarab ID from an obelisk (IDs only grow), and records it before its node runs. Its
 * node then starts empty and outside the group's configuration: it cannot vote or count. The group's leader hears of
 * the new incarnation and, once the configured one has been silent for an election timeout, rejoins it as a learner
 * and promotes it when caught up (ClusterConfig explains why that is safe, also while Orleans briefly runs two
 * activations of one replica on different silos: each has its own incarnation and its own disk).
 *
 * Founding: a group starts only through Bootstrap with a configuration naming the incarnation each replica reported,
 * and a replica accepts it only while it has no log, has never seen a term, and the configuration names its current
 * incarnation. A replica that lost its data in between has another incarnation and refuses, so two members can never
 * start from different first entries.
 *
 * Activation starts off Orleans' activation lock: Orleans (10.4) starts an activation's message loop while holding a lock
 * on the activation (ActivationData.Start), and the loop runs the activation and then its queued requests without
 * leaving that lock for as long as none of it awaits anything unfinished. A call to a grain on the same silo takes
 * the target activation's lock to queue the message. Two sibling replicas that activate on one silo at the same moment
 * (stand-ins after a silo died) each sent their first Raft messages to the other from under their own start lock, each
 * waited for the other's lock, and neither ever released its own: every later call to either activation blocked
 * another pool thread, until the silo answered nothing (a Slow nemesis run: 26 pool threads blocked on the two
 * activations' locks within seconds, 250 a few minutes later). So OnActivateAsync first yields to the activation's
 * scheduler: the rest of the activation and every request after it run in later turns, outside the start lock.
 *
 * This file holds activation, deactivation, founding and status; ReplicaGrain.Transport.cs the Raft messages,
 * ReplicaGrain.Membership.cs the leader's membership changes for moves, ReplicaGrain.GiveWay.cs giving way to the
 * incarnation a leaderless group counts, ReplicaGrain.Homecoming.cs a replica running away from its home going back.
 */
internal abstract partial class ReplicaGrain : Grain, IReplicaTransport, IReplicaLeavingGrain
{
    private readonly SiloStore _siloStore;
    private readonly ILocalSiloDetails _silo;

    private readonly LocalReplicas _replicas;
    private readonly CatchUpThrottle _catchUp;

    private IGrainTimer? _timer;

    // Whether this activation holds the silo's data gate for its key (from the start of activation to deactivation).
    private bool _holdsDataGate;

    protected ReplicaGrain(
        SiloStore siloStore, ILocalSiloDetails silo, LocalReplicas replicas, CatchUpThrottle catchUp, TimeProvider time, IOptions<PyralogOptions> options, ILogger logger)
    {
        _catchUp = catchUp;
        Time = time;
        _siloStore = siloStore;
        _silo = silo;
        _replicas = replicas;
        Options = options.Value;
        Logger = new ReplicaLogger(logger, () => Storage is null ? null : new ReplicaGrainKeyScope(LogId, Partition, Replica, Driver?.Node.Term ?? 0));
    }

    protected PyralogOptions Options { get; }

    protected TimeProvider Time { get; }

    protected ILogger Logger { get; }

    protected string Key => this.GetPrimaryKeyString();

    protected ulong LogId { get; private set; }

    protected int Partition { get; private set; }

    protected int Replica { get; private set; }

    protected ReplicaStorage Storage { get; private set; } = null!;

    protected ReplicaDriver? Driver { get; private set; }

    /// <summary>True when this replica's log was deleted (its tombstone is all it keeps here), or the replica moved away.</summary>
    protected bool Deleted { get; set; }

    /// <summary>True when <see cref="Deleted"/> because the replica moved to another silo (its log lives on).</summary>
    protected bool Retired { get; set; }

    protected LocalReplicas Replicas => _replicas;

    protected IReplicaStateMachine Machine { get; private set; } = null!;

    protected Storage.Native.PyramidStore Store => _siloStore.Store;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await Task.Yield(); // off Orleans' activation start lock before any call to a sibling (see the design comment)
        if (!ReplicaGrainKey.TryParse(Key, out var parsed))
        {
            throw new ArgumentException($"'{Key}' is not a replica key (\"log/partition/replica\", replica below {ReplicaGrainKey.MaxReplicationFactor})");
        }

        LogId = parsed.Log;
        Partition = parsed.Partition;
        Replica = parsed.Replica;
        await _replicas.DataGate.EnterAsync(Key);
        _holdsDataGate = true;
        try
        {
            await OpenAsync(parsed, cancellationToken);
        }
        catch
        {
            ExitDataGate();
            throw;
        }
    }

    private async Task OpenAsync(ReplicaGrainKey parsed, CancellationToken cancellationToken)
    {
        var (storeLog, deleted) = await ReplicaKv.FindAsync(Store, LogId, Partition, Replica, cancellationToken);
        if (deleted)
        {
            Deleted = true; // its log was deleted: it answers so, and runs no Raft node
            return;
        }

        Storage = await ReplicaStorage.OpenAsync(Store, storeLog);
        if (!IsMetadata && await _replicas.IsRetiredAsync(parsed))
        {
            // Moved away (removed from its group, its slot without a home): whatever it left here is garbage, and an
            // activation must not rejoin it under a fresh incarnation.
            await DropDataAsync(tombstone: false);
            throw new InvalidOperationException($"replica {Key} is not part of its partition any more (it was moved away): no slot {Replica} in partition {Partition} of log {LogId}");
        }

        if (Storage.HardState.Incarnation == 0)
        {
            if (!IsMetadata && await _replicas.HomeElsewhereOfNewcomerAsync(parsed) is { } home)
            {
                // Refused before it records anything: the call is rerouted or rejected, and the caller's stale
                // directory entry is dropped, so its next call is placed on the home.
                throw new InvalidOperationException(
                    $"replica {Key} is homed on silo {home}, not on this one: a caller's stale directory entry sent the call here; call again");
            }

            var id = await GrainFactory.GetGrain<IObeliskGrain>(0).NextAsync();
            await Storage.RecordIncarnationAsync((long)id.Value, cancellationToken);
            Logger.LogInformation("Replica {Key} starts without data on this silo as incarnation {Incarnation}", Key, Storage.HardState.Incarnation);
        }

        await OnStorageOpenAsync(cancellationToken);
        StartDriver();
        _replicas.Add(Key, IsMetadata);
        ServiceProvider.GetRequiredService<PinnedReplicas>().Unpin(Key);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _replicas.Remove(Key);
        if (reason.ReasonCode == DeactivationReasonCode.DirectoryFailure && Driver is not null)
        {
            ReturnHereAfterDirectoryFailure();
        }

        SetTicking(false);
        _gapTimer?.Dispose();
        _gapTimer = null;
        var written = Task.CompletedTask;
        if (Driver is { } driver)
        {
            driver.Dispose();

            // Orleans starts the next activation of this replica on this silo only once this one has ended; that one must
            // read a log and hard state that hold everything this one acknowledged (see ReplicaDriver.QueuedPersists).
            // Should the deactivation time out first, the data gate makes it wait for them.
            written = driver.QueuedPersists;
            try
            {
                await _replicas.DataGate.WaitForWritesAsync(Key, written, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                Logger.LogWarning("Replica {Key} ended before the store committed its queued writes (the deactivation timed out); its next activation here waits for them", Key);
            }
        }

        ExitDataGate(written);
    }

    /// <summary>
    /// A dead silo held this activation's directory entry, and Orleans ends it although it runs on its own data here: the
    /// next activation is placed here again (see <see cref="PinnedReplicas"/>), and asked for at once, from outside this
    /// activation (a call made now reaches the new activation once this one has ended).
    /// </summary>
    private void ReturnHereAfterDirectoryFailure()
    {
        ServiceProvider.GetRequiredService<PinnedReplicas>().Pin(Key, _silo.SiloAddress);
        var grain = _replicas.Grain(Key, IsMetadata);
        var logger = Logger;
        var key = Key;
        Logger.LogInformation("Replica {Key} lost its directory entry with a dead silo: it reactivates on this silo, on its data", Key);
        _ = Task.Run(async () =>
        {
            try
            {
                await grain.GetStatusAsync();
            }
            catch (Exception e)
            {
                logger.LogDebug(e, "Replica {Key} did not reactivate after its directory entry was lost; its siblings' next messages will", key);
            }
        });
    }

    /// <summary>Orleans started to deactivate this activation (see <see cref="ReplicaDeactivationWatch"/>).</summary>
    internal void OnDeactivating()
    {
        Driver?.OnDeactivating();
        OnDeactivationStarted();
    }

    /// <summary>Orleans started to deactivate this activation: calls still waiting here must end now (see ReplicaDeactivationWatch).</summary>
    protected virtual void OnDeactivationStarted()
    {
    }

    private void ExitDataGate(Task? written = null)
    {
        if (_holdsDataGate)
        {
            _holdsDataGate = false;
            _replicas.DataGate.ExitOnceWritten(Key, written ?? Task.CompletedTask);
        }
    }

    public Task<LeadershipHandOff> HandOffForLeavingAsync(int[] siblingsHere, int preferred)
    {
        ArgumentNullException.ThrowIfNull(siblingsHere);
        var node = Driver?.Node;
        if (node is not { Role: RaftRole.Leader })
        {
            return Task.FromResult(new LeadershipHandOff(false, -1, null, Driver?.PendingProposals ?? 0));
        }

        if (node.LeadTransferee != 0)
        {
            return Task.FromResult(new LeadershipHandOff(true, ReplicaDriver.Replica(node.LeadTransferee), null)); // under way
        }

        if (preferred >= 0 && Array.IndexOf(siblingsHere, preferred) < 0 && Driver!.HandLeadershipTo(preferred))
        {
            Logger.LogInformation("Replica {Key} hands its leadership to replica {To}: its silo is stopping", Key, preferred);
            return Task.FromResult(new LeadershipHandOff(true, preferred, null));
        }

        // TransferCandidate is what HandOffLeadership picks in this same turn: check it is on another silo first.
        var candidate = node.TransferCandidate();
        if (candidate == 0)
        {
            return Task.FromResult(new LeadershipHandOff(true, -1, "no voter of its group is caught up and heard from within an election timeout"));
        }

        if (Array.IndexOf(siblingsHere, ReplicaDriver.Replica(candidate)) >= 0)
        {
            return Task.FromResult(new LeadershipHandOff(true, -1, $"its most caught-up sibling, replica {ReplicaDriver.Replica(candidate)}, runs on this silo too"));
        }

        var to = Driver!.HandOffLeadership();
        if (to == 0)
        {
            return Task.FromResult(new LeadershipHandOff(true, -1, "the replica could not start a transfer (it stopped after a failure)"));
        }

        Logger.LogInformation("Replica {Key} hands its leadership to replica {To}: its silo is stopping", Key, ReplicaDriver.Replica(to));
        return Task.FromResult(new LeadershipHandOff(true, ReplicaDriver.Replica(to), null));
    }

    public Task AnnounceLeavingAsync()
    {
        if (Driver?.Node is { Role: not RaftRole.Leader })
        {
            Driver.AnnounceLeaving();
        }

        return Task.CompletedTask;
    }

    /// <exception cref="InvalidOperationException">This replica's log was deleted.</exception>
    protected void ThrowIfDeleted()
    {
        if (Deleted)
        {
            throw new InvalidOperationException(Retired
                ? $"replica {Key} is not part of its partition any more (it was moved away)"
                : $"no log has id {LogId} (it was deleted): replica {Key} does not exist");
        }
    }

    public async Task<ReplicaPrepared> PrepareAsync()
    {
        ThrowIfDeleted();
        var hasLog = Storage.Metadata.LastIndex > 0;
        if (!hasLog)
        {
            StayWhileNamed();
        }

        var askSilo = IsMetadata && !hasLog;
        return new ReplicaPrepared(
            Storage.HardState.Incarnation, hasLog, askSilo && await ReplicaKv.HoldsPartitionLogAsync(Store), askSilo && await ReplicaKv.SawFoundedGroupAsync(Store));
    }

    /// <summary>Starts the group with the configuration of <paramref name="incarnations"/> (slot i = Raft id i + 1) if this replica may (see the founding rule).</summary>
    protected async Task<bool> BootstrapGroupAsync(long[] incarnations)
    {
        if (Storage.Metadata.LastIndex > 0 || Storage.HardState.Term > 0 || Replica >= incarnations.Length ||
            incarnations[Replica] != Storage.HardState.Incarnation)
        {
            return false;
        }

        var voters = new Member[incarnations.Length];
        for (var i = 0; i < incarnations.Length; i++)
        {
            voters[i] = new Member(ReplicaDriver.RaftId(i), incarnations[i]);
        }

        Driver?.Dispose();
        Driver = null;
        await Storage.BootstrapAsync(new ClusterConfig(voters, []), CancellationToken.None);
        await OnStorageOpenAsync(CancellationToken.None);
        StartDriver();

        // Slot 0 leads a new group: its siblings hold their first election back for two election timeouts. Slot 0's
        // homes are spread evenly over the silos (rendezvous hashing per partition), so a new log's leaders start out
        // balanced instead of gathering wherever activations ran first (1,000 partitions once put 594 leaders on one of
        // three silos; leader balancing then spent five minutes of hand-overs evening them out). Only the first
        // election waits: a sibling that hears from a leader stops holding.
        if (Replica != 0)
        {
            Driver?.HoldFirstElection(2 * Options.Replication.ElectionTicks);
        }

        Logger.LogInformation("Replica {Key} founded its group of {Count} replicas", Key, incarnations.Length);
        return true;
    }

    /// <summary>Drops everything this replica keeps on this silo (see <see cref="ReplicaStorage.DeleteAll"/>).</summary>
    protected async Task DropDataAsync(bool tombstone)
    {
        if (Driver is { } driver)
        {
            // The drop lists the replica's keys and log bounds as they are: writes its driver queued before it was
            // disposed must have landed first, or their entries and keys would outlive the drop.
            await driver.QueuedPersists;
        }

        using var write = new WriteBatch();
        Storage.DeleteAll(write, tombstone);
        if (write.Count > 0)
        {
            await Store.WriteAsync(write);
        }
    }

    protected ReplicaStatus Status(ulong epoch, ulong firstOffset, ulong nextOffset)
    {
        var node = Driver?.Node;
        return new ReplicaStatus
        {
            Key = Key,
            Silo = _silo.SiloAddress.ToParsableString(),
            Role = node is null ? ReplicaRole.None : RoleOf(node),
            Term = (ulong)(node?.Term ?? 0),
            LeaderReplica = node is null ? -1 : ReplicaDriver.Replica(node.Leader),
            Incarnation = Storage.HardState.Incarnation,
            CommitIndex = node?.CommitIndex ?? 0,
            AppliedIndex = node?.AppliedIndex ?? 0,
            LastIndex = node?.LastIndex ?? 0,
            LastTerm = node?.LastTerm ?? 0,
            SnapshotIndex = node?.SnapshotIndex ?? Storage.Metadata.Snapshot.Index,
            Epoch = epoch,
            FirstOffset = firstOffset,
            NextOffset = nextOffset,
            Quiesced = Driver?.Quiesced ?? true,
            VoterIncarnations = node is null ? [] : Incarnations(node.Config.Voters),
            LearnerIncarnations = node is null ? [] : Incarnations(node.Config.Learners),
            ConfigCommitted = node?.ConfigCommitted ?? false,
        };
    }

    private static long[] Incarnations(IReadOnlyList<Member> members)
    {
        var slots = 0;
        foreach (var m in members)
        {
            slots = Math.Max(slots, ReplicaDriver.Replica(m.Id) + 1);
        }

        var incarnations = new long[slots];
        foreach (var m in members)
        {
            incarnations[ReplicaDriver.Replica(m.Id)] = m.Incarnation;
        }

        return incarnations;
    }

    /// <summary>Opens the state machine over the storage just opened (at activation and after a bootstrap).</summary>
    protected abstract Task OnStorageOpenAsync(CancellationToken cancellationToken);

    /// <summary>True for the metadata group's replicas.</summary>
    protected abstract bool IsMetadata { get; }

    /// <summary>Whether persists may be acknowledged from the page cache (os-cache durability).</summary>
    protected abstract bool SkipSync { get; }

    /// <summary>Whether the leader tells its followers a new commit index at once (see <see cref="RaftOptions.BroadcastCommit"/>).</summary>
    protected abstract bool BroadcastCommit { get; }

    protected abstract IReplicaStateMachine CreateMachine();

    public void SetTicking(bool on)
    {
        if (!on)
        {
            if (_timer is not null)
            {
                _timer.Dispose();
                _timer = null;
                ReplicationInstruments.Ticking.Add(-1);
            }

            return;
        }

        if (_timer is not null)
        {
            return;
        }

        ReplicationInstruments.Ticking.Add(1);
        var interval = Options.Replication.TickInterval;
        _timer = this.RegisterGrainTimer(
            static (grain, _) =>
            {
                grain.Driver?.Tick();
                grain.GiveWayIfLongLeaderless();
                return Task.CompletedTask;
            },
            this,
            new GrainTimerCreationOptions(interval, interval) { Interleave = true, KeepAlive = true });
    }

    public void Failed(Exception error) => DeactivateOnIdle();

    public void LeadershipChanged(bool leads) => _replicas.SetLeading(Key, leads);

    /// <summary>See <see cref="ReplicaDriver.MayLeave"/>: a quiesced leader stays awake until the asker's next check
    /// (every HomecomingInterval) finds its view of the voters made of heartbeats.</summary>
    public Task<bool> MayLeaveAsync(int replica)
    {
        var replication = Options.Replication;
        var untilNextAsk = (int)Math.Min(int.MaxValue / 4, Math.Ceiling(replication.HomecomingInterval / replication.TickInterval));
        return Task.FromResult(Driver?.MayLeave(replica, untilNextAsk) ?? false);
    }

    public Task<bool> HandLeadershipToAsync(int replica) => Task.FromResult(Driver?.HandLeadershipTo(replica) ?? false);

    private void StartDriver()
    {
        Machine = CreateMachine();
        var hard = Storage.HardState;
        var node = new RaftNode(new RaftOptions
        {
            Id = ReplicaDriver.RaftId(Replica),
            Incarnation = hard.Incarnation,
            Storage = Storage,
            Random = new SeededRaftRandom((ulong)hard.Incarnation ^ ((ulong)Replica << 56)),
            ElectionTicks = Options.Replication.ElectionTicks,
            MaxCachedBytes = Options.Replication.CachedEntryBytes,
            MaxBytesPerMessage = ReplicaDriver.AppendBytes,
            Applied = Storage.RestartApplied(Machine.AppliedIndex),
            BroadcastCommit = BroadcastCommit,
        });
        Driver = new ReplicaDriver(node, Storage, Store, Machine, this, Logger, new ReplicaGrainKey(LogId, Partition, Replica), SkipSync);

        // A member wakes at once: it may be the replica a leaderless group waits for.
        if (Storage.Metadata.LastIndex > 0)
        {
            Driver.Wake("activation");
        }
    }

    private static ReplicaRole RoleOf(RaftNode node) => node.Role switch
    {
        RaftRole.Leader => ReplicaRole.Leader,
        RaftRole.Candidate or RaftRole.PreCandidate => ReplicaRole.Candidate,
        _ when node.IsVoter => ReplicaRole.Follower,
        _ when node.IsMember => ReplicaRole.Learner,
        _ => ReplicaRole.None,
    };
}
