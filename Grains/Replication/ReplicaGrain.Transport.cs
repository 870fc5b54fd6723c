using Pyralog.Consensus;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>
/// A replica grain's side of the Raft transport: envelopes out to its siblings (numbered per link, paced for learners,
/// about once a second as an answered call) and envelopes in, put back in send order before the driver sees them.
/// </summary>
internal abstract partial class ReplicaGrain
{
    private static readonly TimeSpan ConfirmEvery = TimeSpan.FromSeconds(1);

    // Per sibling slot: the last send the catch-up throttle held back (later sends to that replica queue behind it,
    // so a learner receives its envelopes in order).
    private readonly Task?[] _heldSends = new Task?[ReplicaGrainKey.MaxReplicationFactor];

    // Per sibling slot: when an envelope last went to it as an answered call (a TimeProvider timestamp).
    private readonly long[] _confirmedAt = new long[ReplicaGrainKey.MaxReplicationFactor];

    // This activation's link number, and per sibling slot the envelopes sent to it so far (see SiblingLink).
    // Invariant: _sentTo, _heldSends and _confirmedAt change only under _sendLock, and an envelope is numbered and handed
    // to Orleans under it in one step, so envelopes leave in their numbers' order from the grain's thread and from the
    // store's commit thread (TrySendFromAnyThread) alike.
    private readonly long _link = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly long[] _sentTo = new long[ReplicaGrainKey.MaxReplicationFactor];
    private readonly Lock _sendLock = new();

    // Per sibling slot: what arrived from it, put back in send order; the timer that gives up a gap (set while any
    // link holds an envelope); envelopes ready for the node (scratch, empty between calls).
    private readonly SiblingLink?[] _inbound = new SiblingLink?[ReplicaGrainKey.MaxReplicationFactor];

    // Per sibling slot: its grain reference, made on first use (GetGrain resolves the grain type each call, which cost
    // a loaded silo a tenth of its time when every send made one).
    private readonly IRaftReplicaGrain?[] _peers = new IRaftReplicaGrain?[ReplicaGrainKey.MaxReplicationFactor];
    private IGrainTimer? _gapTimer;
    private readonly List<RaftEnvelope> _ready = [];

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
        try
        {
            foreach (var envelope in _ready)
            {
                Driver?.Deliver(envelope);
            }
        }
        finally
        {
            // Even when one throws: kept, it would be handed on first again with every later envelope, and fail them all.
            _ready.Clear();
        }
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

    /// <summary>The grain of replica slot <paramref name="replica"/> of this group (a reference made once per slot: every send needs one).</summary>
    protected IRaftReplicaGrain Peer(int replica) =>
        replica >= 0 && replica < _peers.Length ? _peers[replica] ??= CreatePeer(replica) : CreatePeer(replica);

    /// <summary>A new reference to the grain of replica slot <paramref name="replica"/> of this group.</summary>
    protected abstract IRaftReplicaGrain CreatePeer(int replica);

    /// <summary>
    /// Sends one-way, except about once a second per sibling: then as an answered call (see
    /// <see cref="IRaftReplicaGrain.DeliverConfirmedAsync"/>: a stale address of a re-activated sibling is corrected by
    /// the runtime only when a call is rejected, not when a one-way message is). What a leader sends to a learner waits
    /// for the silo's catch-up budget (<see cref="CatchUpThrottle"/>).
    /// </summary>
    public void Send(long toRaftId, RaftEnvelope envelope)
    {
        var replica = ReplicaDriver.Replica(toRaftId);
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

        lock (_sendLock)
        {
            envelope = envelope with { Link = _link, Sequence = ++_sentTo[replica] };

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
    }

    /// <summary>
    /// Sends now from whatever thread calls (the store's commit thread: see <see cref="AfterPersistSends"/>), numbered
    /// in order with the grain's own sends; false, sending nothing, while an earlier send to that replica is held.
    /// </summary>
    public bool TrySendFromAnyThread(long toRaftId, RaftEnvelope envelope)
    {
        var replica = ReplicaDriver.Replica(toRaftId);
        if (replica < 0 || replica >= _sentTo.Length)
        {
            return false;
        }

        lock (_sendLock)
        {
            if (_heldSends[replica] is { IsCompleted: false })
            {
                return false;
            }

            SendNow(replica, envelope with { Link = _link, Sequence = ++_sentTo[replica] });
            return true;
        }
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

        lock (_sendLock)
        {
            SendNow(replica, envelope);
        }
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
}
