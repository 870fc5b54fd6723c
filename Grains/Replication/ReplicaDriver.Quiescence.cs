using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/*
 * Quiescence: see RaftNode.Quiescence. The leader quiesces after a few idle ticks, marking its last heartbeats; a
 * follower that receives them stops ticking too once it has committed its whole log and has no write in flight. The
 * marked heartbeat may be the first to carry the final commit index (partition leaders do not broadcast a commit on
 * its own), so the follower's own write of that commit is still in flight when it arrives: the follower then keeps the
 * request and quiesces when the write completes. One that finds, with nothing in flight, that it still lacks part of
 * the leader's log asks the leader to wake. A follower left ticking beside a silent leader would otherwise campaign.
 * Any input wakes a replica; a follower that wakes asks its leader to resume heartbeats, so waking is not an election.
 */
internal sealed partial class ReplicaDriver
{
    private const int IdleTicksBeforeQuiescing = 3;

    private bool _quiesced = true; // a new driver waits for its first input; the host wakes it at once when it has work
    private bool _markQuiesce;

    // The leader (Raft id) and term whose quiesce-marked heartbeat this follower could not yet follow (its write of the
    // commit index was in flight), or 0. Invariant: non-zero only while awake; cleared once followed, by any unmarked
    // envelope from that leader (it is awake again) and when this replica's leader or term changes.
    private long _quiesceAskedBy;
    private long _quiesceAskedTerm;

    // Invariant: ticks this founder still skips while it is a follower without a leader (HoldFirstElection); 0 once it
    // has seen a leader or stood for election.
    private int _electionHold;
    private int _idleTicks;

    // Ticks this replica stays awake whatever its idleness (see MayLeave): its view of which voters run must come from
    // heartbeats, not from the benefit of the doubt a wake gives every voter.
    private int _awakeTicksLeft;

    /// <summary>
    /// A follower whose leader asked it to quiesce: stops ticking once it has committed its whole log with no write in
    /// flight. At a tick, one that still lacks committed entries with nothing in flight asks the leader to wake.
    /// </summary>
    private void QuiesceAsAskedIfDone(bool atTick)
    {
        if (_quiesceAskedBy == 0 || _quiesced || _failure is not null || _disposed)
        {
            return;
        }

        if (_node.Role != RaftRole.Follower || _node.Leader != _quiesceAskedBy || _node.Term != _quiesceAskedTerm)
        {
            _quiesceAskedBy = 0;
            return;
        }

        if (_persisting.Count > 0 || _node.HasReady)
        {
            return;
        }

        if (_node.CommitIndex != _node.LastIndex)
        {
            if (atTick)
            {
                _quiesceAskedBy = 0;
                _transport.Send(_node.Leader, new RaftEnvelope(_replica, NoMessages, Wake: true));
            }

            return;
        }

        _quiesceAskedBy = 0;
        _quiesced = true;
        _transport.SetTicking(false);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            _logger.LogDebug("Replica {Key} quiesces as a follower of replica {Leader} in term {Term}", _key, Replica(_node.Leader), _node.Term);
        }
    }

    public void Tick()
    {
        if (_failure is not null || _disposed || _quiesced)
        {
            return;
        }

        if (_leavingTicksLeft > 0)
        {
            _leavingTicksLeft--;
            return;
        }

        if (_quiesceAskedBy != 0)
        {
            QuiesceAsAskedIfDone(atTick: true);
            if (_quiesced)
            {
                return;
            }
        }

        if (_electionHold > 0)
        {
            if (_node.Role == RaftRole.Follower && _node.Leader == 0)
            {
                _electionHold--;
                return;
            }

            _electionHold = 0;
        }

        _ticks++;
        try
        {
            _node.Tick();
        }
        catch (Exception e)
        {
            Fail(e);
            return;
        }

        ReportLeaderless();
        _outsideTicks = _node.IsMember ? 0 : _outsideTicks + 1;

        _idleTicks = _node.CanQuiesce && _awakeTicksLeft == 0 ? _idleTicks + 1 : 0;
        if (_awakeTicksLeft > 0)
        {
            _awakeTicksLeft--;
        }

        _markQuiesce = _idleTicks >= IdleTicksBeforeQuiescing;
        Pump();
        if (_markQuiesce)
        {
            _markQuiesce = false;
            _idleTicks = 0;
            _quiesced = true;
            _transport.SetTicking(false);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                _logger.LogDebug("Replica {Key} quiesces as {Role} in term {Term}", _key, _node.Role, _node.Term);
            }
        }
    }

    /// <summary>
    /// Wakes a quiesced replica: timers restart, and a follower asks its leader to resume heartbeats. <paramref name="reason"/>
    /// tags the wake in <see cref="ReplicationInstruments.Wakes"/> (a constant: series stay few).
    /// </summary>
    public void Wake(string reason)
    {
        if (!_quiesced || _failure is not null || _disposed)
        {
            return;
        }

        ReplicationInstruments.Wakes.Add(1, new KeyValuePair<string, object?>("pyralog.wake.reason", reason));
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            // Guarded: wakes come several times a second per busy partition, and the arguments box.
            _logger.LogDebug("Replica {Key} wakes ({Reason}) as {Role} of term {Term}, leader {Leader}", _key, reason, _node.Role, _node.Term, Replica(_node.Leader));
        }
        _quiesced = false;
        _idleTicks = 0;
        _node.Unquiesce();
        _transport.SetTicking(true);
        if (_node.Role != RaftRole.Leader && _node.Leader != 0)
        {
            _transport.Send(_node.Leader, new RaftEnvelope(_replica, NoMessages, Wake: true));
        }
    }
}
