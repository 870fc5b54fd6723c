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
 */
internal abstract class ReplicaGrain : Grain, IReplicaTransport, IReplicaLeavingGrain
{
    private readonly SiloStore _siloStore;
    private readonly ILocalSiloDetails _silo;
    private static readonly TimeSpan ConfirmEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LeaveCheckTimeout = TimeSpan.FromSeconds(2);

    private readonly LocalReplicas _replicas;
    private readonly CatchUpThrottle _catchUp;

    // Per sibling slot: the last send the catch-up throttle held back (later sends to that replica queue behind it,
    // so a learner receives its envelopes in order).
    private readonly Task?[] _heldSends = new Task?[ReplicaGrainKey.MaxReplicationFactor];

    // Per sibling slot: when an envelope last went to it as an answered call (a TimeProvider timestamp).
    private readonly long[] _confirmedAt = new long[ReplicaGrainKey.MaxReplicationFactor];
    private IGrainTimer? _timer;

    // This activation's link number, and per sibling slot the envelopes sent to it so far (see SiblingLink).
    private readonly long _link = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly long[] _sentTo = new long[ReplicaGrainKey.MaxReplicationFactor];

    // Per sibling slot: what arrived from it, put back in send order; the timer that gives up a gap (set while any
    // link holds an envelope); envelopes ready for the node (scratch, empty between calls).
    private readonly SiblingLink?[] _inbound = new SiblingLink?[ReplicaGrainKey.MaxReplicationFactor];

    // Per sibling slot: its grain reference, made on first use (GetGrain resolves the grain type each call, which cost
    // a loaded silo a tenth of its time when every send made one).
    private readonly IRaftReplicaGrain?[] _peers = new IRaftReplicaGrain?[ReplicaGrainKey.MaxReplicationFactor];
    private IGrainTimer? _gapTimer;
    private readonly List<RaftEnvelope> _ready = [];

    // Whether this activation holds the silo's data gate for its key (from the start of activation to deactivation).
    private bool _holdsDataGate;

    // A home silo found to hold no data of this replica (asked once per home).
    private SiloAddress? _homeWithoutData;

    // The term in which ReturnHomeAsync first found this replica leading, and when (a TimeProvider timestamp).
    private long _ledSinceTerm;
    private long _ledSince;

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
            var id = await GrainFactory.GetGrain<IObeliskGrain>(0).NextAsync();
            await Storage.RecordIncarnationAsync((long)id.Value, cancellationToken);
            Logger.LogInformation("Replica {Key} starts without data on this silo as incarnation {Incarnation}", Key, Storage.HardState.Incarnation);
        }

        await OnStorageOpenAsync(cancellationToken);
        StartDriver();
        _replicas.Add(Key, IsMetadata);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _replicas.Remove(Key);
        SetTicking(false);
        _gapTimer?.Dispose();
        _gapTimer = null;
        Driver?.Dispose();
        ExitDataGate();
        return Task.CompletedTask;
    }

    private void ExitDataGate()
    {
        if (_holdsDataGate)
        {
            _holdsDataGate = false;
            _replicas.DataGate.Exit(Key);
        }
    }

    public Task DeliverAsync(RaftEnvelope envelope)
    {
        if (Driver is not { } driver)
        {
            return Task.CompletedTask;
        }

        var from = envelope.FromReplica;
        if (from < 0 || from >= _inbound.Length)
        {
            driver.Deliver(envelope);
            return Task.CompletedTask;
        }

        var link = _inbound[from] ??= new SiblingLink();
        switch (link.Accept(envelope, Time.GetTimestamp(), _ready))
        {
            case EnvelopeArrival.Ahead:
                ReplicationInstruments.EnvelopesAhead.Add(1);
                break;
            case EnvelopeArrival.Late:
                ReplicationInstruments.EnvelopesLate.Add(1);
                break;
        }

        HandOnReady();
        if (link.Held > 0)
        {
            ArmGapTimer();
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// How long an envelope waits for one sent before it: five ticks (on a loaded silo one of the two connections
    /// between a pair of silos lags the other by tens of milliseconds), half the shortest election timeout, so held
    /// heartbeats never cost a follower its leader.
    /// </summary>
    private TimeSpan GapWindow => 5 * Options.Replication.TickInterval;

    private void HandOnReady()
    {
        foreach (var envelope in _ready)
        {
            Driver?.Deliver(envelope);
        }

        _ready.Clear();
    }

    private void ArmGapTimer()
    {
        if (_gapTimer is not null)
        {
            return;
        }

        var oldest = long.MaxValue;
        foreach (var link in _inbound)
        {
            if (link is { Held: > 0 })
            {
                oldest = Math.Min(oldest, link.OldestArrival);
            }
        }

        if (oldest == long.MaxValue)
        {
            return;
        }

        var due = GapWindow - Time.GetElapsedTime(oldest);
        _gapTimer = this.RegisterGrainTimer(
            static (grain, _) =>
            {
                grain.GiveUpGaps();
                return Task.CompletedTask;
            },
            this,
            new GrainTimerCreationOptions(due > TimeSpan.Zero ? due : TimeSpan.Zero, Timeout.InfiniteTimeSpan) { Interleave = true });
    }

    private void GiveUpGaps()
    {
        _gapTimer?.Dispose();
        _gapTimer = null;
        var heldBefore = Time.GetTimestamp() - (long)(GapWindow.TotalSeconds * Time.TimestampFrequency);
        foreach (var link in _inbound)
        {
            if (link is { Held: > 0 })
            {
                ReplicationInstruments.EnvelopeGapsGivenUp.Add(link.Expire(heldBefore, _ready));
            }
        }

        HandOnReady();
        ArmGapTimer();
    }

    public Task DeliverConfirmedAsync(RaftEnvelope envelope) => DeliverAsync(envelope);

    public async Task ReturnHomeAsync()
    {
        if (_replicas.BetterSiloElsewhere(new ReplicaGrainKey(LogId, Partition, Replica)) is not { } home || !await WorthMovingAsync(home))
        {
            return;
        }

        var node = Driver?.Node;
        if (node is { Role: RaftRole.Leader })
        {
            // A leader handed leadership moments ago may have it from a sibling that is itself leaving for its home
            // (when a silo joins, two replicas of a group can both be away from home): handing it straight back would
            // bounce leadership between them, an election each time, and neither would ever be a follower at a check.
            // Lead for a few checks first, so the sibling leaves.
            if (_ledSinceTerm != node.Term)
            {
                _ledSinceTerm = node.Term;
                _ledSince = Time.GetTimestamp();
            }

            if (Time.GetElapsedTime(_ledSince) < 4 * Options.Replication.HomecomingInterval)
            {
                return;
            }

            // Leaving as leader would cost the group an election: hand over first; the next check finds a follower.
            if (Driver!.HandOffLeadership() is var to and not 0)
            {
                Logger.LogInformation("Replica {Key} hands its leadership to replica {To} before it returns to its home silo {Home}", Key, ReplicaDriver.Replica(to), home);
            }

            return;
        }

        if (node is not null && node.IsVoter)
        {
            // A leaderless group may need this vote for its next election, unless no sibling counts it; with a leader,
            // leaving costs the group this voter until its home incarnation rejoins: only while every other voter runs.
            var mayLeave = node.Leader == 0 ? await NamedByNoSiblingAsync(node) : await LeaderLetsLeaveAsync(node.Leader);
            if (!mayLeave || Driver?.Node is null or { Role: RaftRole.Leader })
            {
                return; // the next check asks again
            }
        }

        Logger.LogInformation("Replica {Key} returns to its home silo {Home}", Key, home);
        Driver?.AnnounceLeaving();
        MigrateOnIdle();
    }

    /// <summary>
    /// Whether the siblings whose logs reach at least as far as this replica's all name another incarnation of this slot
    /// as its voter (and at least one answered): then no election counts this incarnation's vote, and staying here only
    /// keeps the incarnation they name (the one at home, typically) from running. Without this, a stand-in back on its
    /// own stale data, believing itself a voter of a leaderless group, waited for a leader that needed its home copy.
    /// </summary>
    private async Task<bool> NamedByNoSiblingAsync(RaftNode node)
    {
        var siblings = new List<Task<ReplicaStatus>>();
        var voters = node.Config.Voters;
        for (var i = 0; i < voters.Count; i++)
        {
            if (voters[i].Id != node.Id)
            {
                siblings.Add(Peer(ReplicaDriver.Replica(voters[i].Id)).GetStatusAsync().WaitAsync(LeaveCheckTimeout, Time));
            }
        }

        try
        {
            await Task.WhenAll(siblings).ConfigureAwait(true);
        }
        catch
        {
            // Judged on the siblings that answered.
        }

        var statuses = new ReplicaStatus?[siblings.Count];
        for (var i = 0; i < statuses.Length; i++)
        {
            statuses[i] = siblings[i].IsCompletedSuccessfully ? siblings[i].Result : null;
        }

        if (!SiblingConfigurations.NameAnotherVoter(Replica, node.Incarnation, node.LastIndex, statuses))
        {
            return false;
        }

        Logger.LogInformation("Replica {Key} leaves its leaderless group: its siblings name another incarnation as this slot's voter", Key);
        return true;
    }

    private async Task<bool> LeaderLetsLeaveAsync(long leader)
    {
        try
        {
            if (await Peer(ReplicaDriver.Replica(leader)).MayLeaveAsync(Replica).WaitAsync(LeaveCheckTimeout, Time))
            {
                return true;
            }

            Logger.LogDebug("Replica {Key} stays until every other voter of its group runs and is caught up", Key);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            Logger.LogDebug(e, "Replica {Key} stays: its leader did not say whether it may leave", Key);
        }

        return false;
    }

    /// <summary>
    /// Whether moving to <paramref name="home"/> helps the group. It does when the home silo holds this replica's data
    /// (it reopens there under its old incarnation: a replica back from a survivor after its silo returned), or when a
    /// sibling runs on this silo too (the group survives one silo loss fewer until it moves, even if it starts empty
    /// there) — unless this replica is a voter and no sibling here is: then the sibling is a stand-in without data
    /// (its own silo is down) and it is the one to go, while this voter keeps its data and its vote. Otherwise — a
    /// silo joined and the placement rule now names it — moving would throw away this replica's data and rejoin it
    /// empty, and two replicas of a group doing so at once leave it one voter of three, unable to elect.
    /// </summary>
    /// <remarks>
    /// Why the voter rule: a leader lets a voter leave while every other voter answers, but a sibling whose silo is
    /// stopping still answers; a voter leaving its data then could leave the group one voter of three for good.
    /// </remarks>
    private async Task<bool> WorthMovingAsync(SiloAddress home)
    {
        var self = new ReplicaGrainKey(LogId, Partition, Replica);
        if (_replicas.SiblingActive(self) && (Driver?.Node is not { IsVoter: true } || await VoterSiblingHereAsync(self)))
        {
            return true;
        }

        if (home.Equals(_homeWithoutData))
        {
            return false;
        }

        var holds = await ServiceProvider.GetRequiredService<SiloReportClient>().For(home).HoldsReplicaAsync(LogId, Partition, Replica);
        _homeWithoutData = holds ? null : home;
        return holds;
    }

    /// <summary>Whether a sibling active on this silo is a voter of the group (asked directly; one that does not answer counts as one).</summary>
    private async Task<bool> VoterSiblingHereAsync(ReplicaGrainKey self)
    {
        foreach (var (key, metadata) in _replicas.SiblingsActive(self))
        {
            try
            {
                if (await _replicas.Grain(key, metadata).GetStatusAsync().WaitAsync(LeaveCheckTimeout, Time) is
                    { Role: ReplicaRole.Follower or ReplicaRole.Candidate or ReplicaRole.Leader })
                {
                    return true;
                }
            }
            catch (Exception e) when (e is TimeoutException or OrleansException or InvalidOperationException)
            {
                return true;
            }
        }

        return false;
    }

    public Task<LeadershipHandOff> HandOffForLeavingAsync(int[] siblingsHere)
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

    public Task<ReplicaPrepared> PrepareAsync()
    {
        ThrowIfDeleted();
        return Task.FromResult(new ReplicaPrepared(Storage.HardState.Incarnation, Storage.Metadata.LastIndex > 0));
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
        Logger.LogInformation("Replica {Key} founded its group of {Count} replicas", Key, incarnations.Length);
        return true;
    }

    /// <summary>Drops everything this replica keeps on this silo (see <see cref="ReplicaStorage.DeleteAll"/>).</summary>
    protected async Task DropDataAsync(bool tombstone)
    {
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

    /// <summary>
    /// Leader: adds incarnation <paramref name="incarnation"/> of replica slot <paramref name="replica"/> to the group as
    /// a learner the leader promotes once it has caught up (the first step of a replica move); null when that is done or
    /// proposed, else why not yet.
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead.</exception>
    public Task<string?> AddReplicaAsync(int replica, long incarnation)
    {
        var node = LeaderNode();
        var id = ReplicaDriver.RaftId(replica);
        if (node.Config.TryGetMember(id, out var member, out _))
        {
            // Another incarnation in the slot (the target silo lost it): replace it, as any rejoin does.
            return Task.FromResult(member.Incarnation == incarnation
                ? null
                : Driver!.ChangeMembership(new ConfigChange(ConfigChangeType.Rejoin, new Member(id, incarnation))));
        }

        var refused = Driver!.ChangeMembership(new ConfigChange(ConfigChangeType.AddLearner, new Member(id, incarnation, AutoPromote: true)));
        if (refused is null)
        {
            Logger.LogInformation("Replica {Key} adds replica {Replica} (incarnation {Incarnation}) to its group as a learner", Key, replica, incarnation);
        }

        return Task.FromResult(refused);
    }

    /// <summary>
    /// Leader: removes replica slot <paramref name="replica"/> from the group (the last step of a replica move); null when
    /// it is not a member or its removal was proposed, else why not yet. A leader asked to remove itself hands its
    /// leadership to a caught-up voter first.
    /// </summary>
    /// <exception cref="NotLeaderException">This replica does not lead.</exception>
    public Task<string?> RemoveReplicaAsync(int replica)
    {
        var node = LeaderNode();
        var id = ReplicaDriver.RaftId(replica);
        if (!node.Config.TryGetMember(id, out var member, out _))
        {
            return Task.FromResult<string?>(null);
        }

        if (id == node.Id)
        {
            var to = Driver!.HandOffLeadership();
            return Task.FromResult<string?>(to == 0
                ? "the leader is the replica to remove and none of its voters is caught up to take over"
                : $"the leader is the replica to remove: it hands its leadership to replica {ReplicaDriver.Replica(to)} first");
        }

        var refused = Driver!.ChangeMembership(new ConfigChange(ConfigChangeType.Remove, member));
        if (refused is null)
        {
            Logger.LogInformation("Replica {Key} removes replica {Replica} from its group", Key, replica);
        }

        return Task.FromResult(refused);
    }

    private RaftNode LeaderNode()
    {
        var node = Driver?.Node;
        if (node is not { Role: RaftRole.Leader })
        {
            var leader = node is null ? -1 : ReplicaDriver.Replica(node.Leader);
            throw new NotLeaderException(Key, leader < 0 || leader == Replica ? null : Peer(leader).GetPrimaryKeyString());
        }

        return node;
    }

    /// <summary>Opens the state machine over the storage just opened (at activation and after a bootstrap).</summary>
    protected abstract Task OnStorageOpenAsync(CancellationToken cancellationToken);

    /// <summary>The grain of replica slot <paramref name="replica"/> of this group (a reference made once per slot: every send needs one).</summary>
    protected IRaftReplicaGrain Peer(int replica) =>
        replica >= 0 && replica < _peers.Length ? _peers[replica] ??= CreatePeer(replica) : CreatePeer(replica);

    /// <summary>A new reference to the grain of replica slot <paramref name="replica"/> of this group.</summary>
    protected abstract IRaftReplicaGrain CreatePeer(int replica);

    /// <summary>True for the metadata group's replicas.</summary>
    protected abstract bool IsMetadata { get; }

    /// <summary>Whether persists may be acknowledged from the page cache (os-cache durability).</summary>
    protected abstract bool SkipSync { get; }

    protected abstract IReplicaStateMachine CreateMachine();

    /// <summary>
    /// Sends one-way, except about once a second per sibling: then as an answered call (see
    /// <see cref="IRaftReplicaGrain.DeliverConfirmedAsync"/>: a stale address of a re-activated sibling is corrected by
    /// the runtime only when a call is rejected, not when a one-way message is). What a leader sends to a learner waits
    /// for the silo's catch-up budget (<see cref="CatchUpThrottle"/>).
    /// </summary>
    public void Send(long toRaftId, RaftEnvelope envelope)
    {
        var replica = ReplicaDriver.Replica(toRaftId);
        envelope = envelope with { Link = _link, Sequence = ++_sentTo[replica] };
        var wait = TimeSpan.Zero;
        if (_catchUp.Enabled && IsLearnerOfMyGroup(toRaftId))
        {
            wait = _catchUp.Reserve(envelope.Messages.Length);
            ReplicationInstruments.CatchUpBytes.Add(envelope.Messages.Length);
            if (wait > TimeSpan.Zero)
            {
                ReplicationInstruments.CatchUpWait.Add(wait.TotalSeconds);
            }
        }

        // Behind a held send even when the target is no longer a learner (it was promoted meanwhile): overtaking it
        // would make the receiver wait for the held one.
        var previous = _heldSends[replica];
        if (wait > TimeSpan.Zero || previous is { IsCompleted: false })
        {
            _heldSends[replica] = SendLaterAsync(previous, Time.GetTimestamp(), wait, replica, envelope);
            return;
        }

        SendNow(replica, envelope);
    }

    private bool IsLearnerOfMyGroup(long raftId) =>
        Driver?.Node is { Role: RaftRole.Leader } node && node.Config.TryGetMember(raftId, out _, out var isVoter) && !isVoter;

    private async Task SendLaterAsync(Task? previous, long reservedAt, TimeSpan wait, int replica, RaftEnvelope envelope)
    {
        if (previous is not null)
        {
            await previous;
        }

        var left = wait - Time.GetElapsedTime(reservedAt);
        if (left > TimeSpan.Zero)
        {
            await Task.Delay(left, Time);
        }

        SendNow(replica, envelope);
    }

    private void SendNow(int replica, RaftEnvelope envelope)
    {
        var peer = Peer(replica);
        var now = Time.GetTimestamp();
        if (replica < _confirmedAt.Length && Time.GetElapsedTime(_confirmedAt[replica], now) >= ConfirmEvery)
        {
            _confirmedAt[replica] = now;
            peer.DeliverConfirmedAsync(envelope).ContinueWith(
                static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return;
        }

        _ = peer.DeliverAsync(envelope);
    }

    public void SetTicking(bool on)
    {
        if (!on)
        {
            _timer?.Dispose();
            _timer = null;
            return;
        }

        var interval = Options.Replication.TickInterval;
        _timer ??= this.RegisterGrainTimer(
            static (grain, _) =>
            {
                grain.Driver?.Tick();
                return Task.CompletedTask;
            },
            this,
            new GrainTimerCreationOptions(interval, interval) { Interleave = true, KeepAlive = true });
    }

    public void Failed(Exception error) => DeactivateOnIdle();

    public void LeadershipChanged(bool leads) => _replicas.SetLeading(Key, leads);

    public Task<bool> MayLeaveAsync(int replica) => Task.FromResult(Driver?.MayLeave(replica) ?? false);

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
            Applied = Math.Min(Machine.AppliedIndex, Math.Max(hard.Commit, Storage.Metadata.Snapshot.Index)),
        });
        Driver = new ReplicaDriver(node, Storage, Store, Machine, this, Logger, new ReplicaGrainKey(LogId, Partition, Replica), SkipSync);

        // A member wakes at once: it may be the replica a leaderless group waits for.
        if (Storage.Metadata.LastIndex > 0)
        {
            Driver.Wake();
        }
    }

    private static ReplicaRole RoleOf(RaftNode node) => node.Role switch
    {
        RaftRole.Leader => ReplicaRole.Leader,
        RaftRole.Candidate or RaftRole.PreCandidate => ReplicaRole.Candidate,
        _ when node.Config.TryGetMember(node.Id, out var member, out var isVoter) && member.Incarnation == node.Incarnation =>
            isVoter ? ReplicaRole.Follower : ReplicaRole.Learner,
        _ => ReplicaRole.None,
    };
}
