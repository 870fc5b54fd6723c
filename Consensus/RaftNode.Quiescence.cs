namespace Pyralog.Consensus;

/// <summary>
/// Quiescence (CockroachDB's idle ranges): a group with nothing to do stops ticking, so a thousand idle groups on a
/// silo cost no timers, heartbeats or fsyncs. The leader may quiesce only when every member of its configuration has
/// matched its whole log and everything is committed and durable here, so the last heartbeat tells every follower the
/// final commit index and no one is owed anything. A quiesced follower notices nothing while quiet, including a dead
/// leader: the host wakes the group on any message, proposal or read, and on a membership change of its cluster (a
/// silo died), and <see cref="Unquiesce"/> restarts the timers so waking never by itself starts an election.
/// </summary>
public sealed partial class RaftNode
{
    /// <summary>
    /// True when this leader may stop ticking: no transfer, read or acknowledgement pending, its whole log committed,
    /// durable here and applied, every voter at the configured incarnation matched up to its last index and heard from
    /// within half an election timeout, no other incarnation of a voter heard from within an election timeout, and no
    /// learner waiting for promotion. Send the heartbeats of the current Ready (with the quiesce mark) before stopping.
    /// </summary>
    public bool CanQuiesce
    {
        get
        {
            if (Role != RaftRole.Leader || _leadTransferee != 0 || _reads.Count > 0 || _afterPersist.Count > 0 ||
                Config.LearnerArray.Length > 0)
            {
                return false;
            }

            var last = _log.LastIndex;
            if (_log.Committed != last || _log.StableLastIndex != last || _log.Applied != last)
            {
                return false;
            }

            foreach (var v in Config.VoterArray)
            {
                if (v.Id == Id)
                {
                    continue;
                }

                // A voter not heard from within the last half election timeout may be dead: stay awake, so that its
                // silence is counted (and a new incarnation of it can rejoin) instead of being frozen by quiescence.
                // So may a voter whose slot another incarnation answers from (it moved; its leaving notice was lost,
                // or came with a voter silent): awake, the leader's heartbeats reach the new incarnation, whose
                // answers ask for the rejoin again until the configured one has been silent for an election timeout.
                if (!_progress.TryGetValue(v.Id, out var pr) || pr.Incarnation != v.Incarnation || pr.Match != last ||
                    _ticks - pr.LastHeard > _options.ElectionTicks / 2 ||
                    (pr.OtherIncarnationHeard is { } other && _ticks - other <= _options.ElectionTicks))
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>
    /// Leader awake but perhaps about to quiesce (its idle countdown running) when the host learns that something changed
    /// (a silo of the cluster died): what every member said until now no longer lets it quiesce, exactly as after a
    /// quiet spell (<see cref="Unquiesce"/>), but no timer restarts. Without it a leader that heard a voter just before
    /// that voter died quiesced anyway, and a new incarnation of the voter, which waits for the leader's messages, was
    /// never rejoined. No-op on other roles.
    /// </summary>
    public void ForgetHeardForQuiescence()
    {
        if (Role != RaftRole.Leader)
        {
            return;
        }

        foreach (var pr in _progress.Values)
        {
            pr.LastHeard = Math.Min(pr.LastHeard, _ticks - _options.ElectionTicks / 2 - 1);
        }
    }

    /// <summary>
    /// Resumes after a quiet spell: restarts the election and heartbeat timers (a follower that wakes hears its leader
    /// before it would campaign) and, on a leader, counts every member as recently active for check-quorum (the quiet
    /// spell is not silence it should punish) but as not heard from for quiescence (see below).
    /// </summary>
    public void Unquiesce()
    {
        CheckNoReadyOut();
        _electionElapsed = 0;
        _heartbeatElapsed = 0;
        if (Role == RaftRole.Leader)
        {
            foreach (var pr in _progress.Values)
            {
                pr.RecentActive = true;

                // The quiet spell counts as silence: the leader quiesces again only once every voter has answered since
                // it woke, so a voter that died while all was quiet keeps it awake (and can be replaced by a new
                // incarnation) instead of being frozen by one quiet spell after another.
                pr.LastHeard = Math.Min(pr.LastHeard, _ticks - _options.ElectionTicks / 2 - 1);
            }
        }
    }
}
