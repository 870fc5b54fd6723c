using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>Leadership: hand-offs, transfers, permission to leave, and what changes of leader are logged and counted as.</summary>
internal sealed partial class ReplicaDriver
{
    /// <summary>A replica that knows no leader for this many election timeouts (6 s at the default timing) says what it sees.</summary>
    private const int LeaderlessReportTimeouts = 20;

    /// <summary>
    /// Tells the leader this replica's activation is leaving (it moves home), so its successor rejoins at once, and stops
    /// taking part in the group for <see cref="LeaveGrantTicks"/> ticks (see <see cref="Leaving"/>).
    /// </summary>
    public void AnnounceLeaving()
    {
        if (_failure is not null || _disposed)
        {
            return;
        }

        if (_node.Leader != 0 && _node.Leader != _node.Id)
        {
            _transport.Send(_node.Leader, new RaftEnvelope(_replica, NoMessages, Wake: true, LeavingIncarnation: _node.Incarnation));
        }

        _leavingTicksLeft = (int)LeaveGrantTicks;
        Wake("leaving"); // ticking, so the silence ends if the activation stays after all
    }

    /// <summary>
    /// Whether this replica announced that it leaves and is silent meanwhile: it drops what its group sends and does not
    /// tick. Answering a leader elected after the announcement (the one it told handed its leadership off), it would count
    /// there as a running voter until its activation ended, and that leader could let a second voter leave. Silent like a
    /// replica already gone, it counts as one everywhere; if its activation stays, it rejoins the group as a slow replica.
    /// </summary>
    public bool Leaving => _leavingTicksLeft > 0;

    /// <summary>
    /// A founder that is not meant to lead its new group: its first <paramref name="ticks"/> ticks while it knows no
    /// leader do not count toward an election timeout, so the founder meant to lead times out first.
    /// </summary>
    public void HoldFirstElection(int ticks) => _electionHold = ticks;

    /// <summary>
    /// Leader: starts handing leadership to the most caught-up live voter (<see cref="RaftNode.TransferCandidate"/>);
    /// returns its Raft id, or 0 when there is none, a transfer already runs, or this replica does not lead.
    /// </summary>
    public long HandOffLeadership()
    {
        if (_failure is not null || _disposed || _node.Role != RaftRole.Leader || _node.LeadTransferee != 0)
        {
            return 0;
        }

        var to = _node.TransferCandidate();
        return to != 0 && StartTransfer(to) ? to : 0;
    }

    /// <summary>
    /// Leader: hands leadership to replica slot <paramref name="replica"/> if it is a live, caught-up voter and no transfer
    /// runs (leader balancing); returns whether the transfer started.
    /// </summary>
    public bool HandLeadershipTo(int replica)
    {
        var to = RaftId(replica);
        return _failure is null && !_disposed && _node.LeadTransferee == 0 && _node.IsCaughtUpVoter(to) && StartTransfer(to);
    }

    /// <summary>
    /// Leader: whether voter replica slot <paramref name="replica"/> may stop for a while: every other voter is a live,
    /// caught-up voter at its configured incarnation (<see cref="RaftNode.IsCaughtUpVoter"/>; this leader counts as
    /// one). Two voters of a group leaving at once (two replicas moving home after their silos returned) left a 3-voter
    /// group with one voter that ran, and no leader ever again: the second one must wait until the first one's next
    /// incarnation is a caught-up voter. A quiesced leader answers false and stays awake for <paramref name="untilNextAsk"/>
    /// ticks and two election timeouts more: its view of who runs is as old as its quiescence (a wake counts every voter
    /// live for half an election timeout), so a voter whose silo died meanwhile would count; the caller asks again
    /// (homecoming does every HomecomingInterval) and is then answered from heartbeats.
    /// </summary>
    public bool MayLeave(int replica, int untilNextAsk = 0)
    {
        if (_failure is not null || _disposed || _node.Role != RaftRole.Leader)
        {
            return false;
        }

        if (_quiesced)
        {
            Wake("leadership");
            _awakeTicksLeft = untilNextAsk + 2 * _node.ElectionTicks;
            return false;
        }

        if (_leaveGranted >= 0 && _leaveGranted != replica && _ticks - _leaveGrantedAt < LeaveGrantTicks)
        {
            return false; // another voter was just let go: its announcement may still be on its way
        }

        var leaving = RaftId(replica);
        var voters = _node.Config.Voters;
        for (var i = 0; i < voters.Count; i++)
        {
            var id = voters[i].Id;
            if (id != leaving && id != _node.Id && !_node.IsCaughtUpVoter(id))
            {
                return false;
            }
        }

        _leaveGranted = replica;
        _leaveGrantedAt = _ticks;
        return true;
    }

    /// <summary>Whether an envelope from replica slot <paramref name="slot"/> has reached this activation.</summary>
    public bool HeardFrom(int slot) => slot >= 0 && slot < _heardAt.Length && _heardAt[slot] != 0;

    /// <summary>
    /// How long a leave granted by <see cref="MayLeave"/> keeps every other voter here: long enough for the leaver's
    /// announcement to arrive (after which it no longer counts as running) or, were it lost, for the stopped leaver to
    /// fall silent (an election timeout); a voter let go that stayed (it became leader, or changed its mind) blocks the
    /// others no longer than this.
    /// </summary>
    private long LeaveGrantTicks => 3L * _node.ElectionTicks;

    /// <summary>
    /// Starts a leadership transfer to voter <paramref name="to"/>. Wakes the driver first: a quiesced leader does not
    /// tick, and a transfer that never times out would hold back proposals for good.
    /// </summary>
    private bool StartTransfer(long to)
    {
        Wake("leadership");
        try
        {
            _node.TransferLeadership(to);
        }
        catch (Exception e)
        {
            Fail(e);
            return false;
        }

        Pump();
        return true;
    }

    /// <summary>
    /// Logs when this replica starts or stops leading, or learns of another leader (elections are events operators look
    /// for); counts it, fails the reads the node dropped with it and greets the siblings.
    /// </summary>
    private void LogLeadershipChange()
    {
        var leader = _node.Leader;
        if (leader == _node.Id && _node.MaxVoterLag() is var lag && lag != _reportedLag)
        {
            ReplicationInstruments.ReportLag(_key, leads: true, lag);
            _reportedLag = lag;
        }

        if (leader == _loggedLeader && _node.Term == _loggedTerm)
        {
            return;
        }

        CountLeadershipChange(leader);
        FailReadIndexRequests(leader);

        if (leader != _loggedLeader)
        {
            if (leader == _node.Id)
            {
                _logger.LogInformation("Replica {Key} leads in term {Term}", _key, _node.Term);
            }
            else if (leader == 0)
            {
                _logger.LogInformation("Replica {Key} knows no leader in term {Term} ({Role})", _key, _node.Term, _node.Role);
                if (_logger.IsEnabled(LogLevel.Debug))
                {
                    _logger.LogDebug(
                        "Replica {Key} (incarnation {Incarnation}) sees voters {Voters}, last index {Last}, commit {Commit}",
                        _key, _node.Incarnation, DescribeVoters(), _node.LastIndex, _node.CommitIndex);
                }
            }
            else
            {
                _logger.LogInformation("Replica {Key} follows replica {Leader} in term {Term}", _key, Replica(leader), _node.Term);
            }
        }

        if (leader != 0 && leader != _loggedLeader)
        {
            GreetPeers();
        }

        _loggedLeader = leader;
        _loggedTerm = _node.Term;
    }

    /// <summary>
    /// Whether the last tick completed another <see cref="LeaderlessReportTimeouts"/> election timeouts in a row without a
    /// leader (true on one tick of each such run, which is when the replica reports what it sees and looks for a way out).
    /// </summary>
    public bool LongLeaderless => _leaderlessTicks > 0 && _leaderlessTicks % (LeaderlessReportTimeouts * (long)_node.ElectionTicks) == 0;

    /// <summary>
    /// Whether the last tick completed another <see cref="LeaderlessReportTimeouts"/> election timeouts in a row outside the
    /// group's configuration (a new incarnation its group has not taken in): a leader takes one in within an election
    /// timeout or two, unless it cannot commit (true on one tick of each such run).
    /// </summary>
    public bool LongOutsideGroup => _outsideTicks > 0 && _outsideTicks % (LeaderlessReportTimeouts * (long)_node.ElectionTicks) == 0;

    /// <summary>
    /// Every <see cref="LeaderlessReportTimeouts"/> election timeouts that this replica goes on ticking without a leader,
    /// a warning with what it sees: its election state, the voters (and incarnations) its configuration names, and when it
    /// last heard from each sibling and as which incarnation. A group that cannot elect is then diagnosable from a
    /// default log, which the Debug line at the moment it lost its leader is not.
    /// </summary>
    private void ReportLeaderless()
    {
        if (_node.Leader != 0)
        {
            _leaderlessTicks = 0;
            return;
        }

        _leaderlessTicks++;
        if (!LongLeaderless || !_logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        var heard = new System.Text.StringBuilder();
        for (var slot = 0; slot < _heardAt.Length; slot++)
        {
            if (slot != _replica && (_heardAt[slot] != 0 || _node.Config.TryGetMember(RaftId(slot), out _, out _)))
            {
                heard.Append(heard.Length == 0 ? "" : ", ").Append(slot).Append(": ");
                heard.Append(_heardAt[slot] == 0 ? "never" : $"{_ticks - _heardAt[slot]} ticks ago as {_heardIncarnation[slot]}");
            }
        }

        _logger.LogWarning(
            "Replica {Key} (incarnation {Incarnation}) has known no leader for {Timeouts} election timeouts: {Election}; voters {Voters}; heard from {Heard}",
            _key, _node.Incarnation, _leaderlessTicks / _node.ElectionTicks, _node.DescribeElection(), DescribeVoters(), heard);
    }

    /// <summary>The voters the configuration in force names, as slot@incarnation.</summary>
    private string DescribeVoters() => DescribeMembers(_node.Config.Voters);

    private static string DescribeMembers(IReadOnlyList<Member> members)
    {
        var text = new System.Text.StringBuilder();
        foreach (var m in members)
        {
            text.Append(text.Length == 0 ? "" : ", ").Append(Replica(m.Id)).Append('@').Append(m.Incarnation);
        }

        return text.ToString();
    }

    /// <summary>
    /// Logs when the configuration in force changes after the replica opened (a rejoin, a promotion, a move's steps, or
    /// a truncation rolling one back): which incarnations vote is what decides whether a group can elect, and a leader's
    /// automatic rejoins happen nowhere else in the log. At Information on a leader or a voter, where changes are made and
    /// counted; at Debug on a learner, which replays every configuration in the log it catches up on.
    /// </summary>
    private void LogConfigurationChange()
    {
        var config = _node.Config;
        if (ReferenceEquals(config, _loggedConfig))
        {
            return;
        }

        _loggedConfig = config;
        var level = _node.IsVoter ? LogLevel.Information : LogLevel.Debug;
        if (_logger.IsEnabled(level))
        {
            _logger.Log(
                level, "Replica {Key} (incarnation {Incarnation}) now has voters [{Voters}] and learners [{Learners}] ({Committed})",
                _key, _node.Incarnation, DescribeVoters(), DescribeMembers(config.Learners), _node.ConfigCommitted ? "committed" : "not yet committed");
        }
    }

    /// <summary>Notes that an envelope arrived from replica slot <paramref name="from"/> (for <see cref="ReportLeaderless"/>).</summary>
    private void NoteHeard(int from, Message[] messages)
    {
        if (from < 0 || from >= _heardAt.Length)
        {
            return;
        }

        _heardAt[from] = Math.Max(_ticks, 1);
        if (messages.Length > 0)
        {
            _heardIncarnation[from] = messages[0].FromIncarnation;
        }
    }

    private void CountLeadershipChange(long leader)
    {
        if (_node.Term != _loggedTerm && _node.Role == RaftRole.Candidate)
        {
            ReplicationInstruments.Elections.Add(1);
        }

        if (leader == _node.Id && _loggedLeader != _node.Id)
        {
            ReplicationInstruments.LeaderChanges.Add(1);
            ReplicationInstruments.Leaders.Add(1);
            _transport.LeadershipChanged(leads: true);
        }
        else if (leader != _node.Id && _loggedLeader == _node.Id)
        {
            _transport.LeadershipChanged(leads: false);
            ReplicationInstruments.Leaders.Add(-1);
            ReplicationInstruments.ReportLag(_key, leads: false, 0);
            _reportedLag = -1;
        }
    }

    /// <summary>
    /// Greets every other voter (each answers with an empty envelope). Followers never message each other while a
    /// leader lives, so a silo may not know where a sibling's activation runs (or still caches where it ran before it
    /// moved); when the leader's silo dies, the election's first messages would then wait for a grain-directory lookup,
    /// which fails until the dead silo is declared dead if that silo held the directory entry (seconds). Greeting both
    /// ways on every leader change keeps those addresses cached.
    /// </summary>
    private void GreetPeers()
    {
        foreach (var v in _node.Config.Voters)
        {
            if (v.Id != _node.Id)
            {
                _transport.Send(v.Id, new RaftEnvelope(_replica, NoMessages, Greeting: true));
            }
        }
    }
}
