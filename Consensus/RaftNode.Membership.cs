namespace Pyralog.Consensus;

/// <summary>
/// Single-server membership changes (rules and safety argument in <see cref="ClusterConfig"/>; etcd's confchange):
/// a configuration is in force as soon as its entry is in the log (the history lives in <see cref="LogMetadata"/>,
/// so a truncation rolls it back), the leader accepts a change only when the previous one is committed and it has
/// committed an entry of its own term, and it keeps one progress per member at the configured incarnation.
/// </summary>
public sealed partial class RaftNode
{
    /// <summary>
    /// Proposes one single-server membership change (rules and safety argument in <see cref="ClusterConfig"/>).
    /// The new configuration is in force on each node as soon as the entry is in its log.
    /// </summary>
    public ProposeResult ProposeMembershipChange(ConfigChange change)
    {
        CheckNoReadyOut();
        if (Role != RaftRole.Leader)
        {
            return ProposeResult.Rejected(ProposeStatus.NotLeader, _lead, "not the leader");
        }

        if (_leadTransferee != 0)
        {
            return ProposeResult.Rejected(ProposeStatus.TransferInProgress, Id, $"transferring leadership to {_leadTransferee}");
        }

        if (_log.Meta.ConfigIndex > _log.Committed)
        {
            return ProposeResult.Rejected(ProposeStatus.ConfigChangePending, Id, $"configuration at {_log.Meta.ConfigIndex} is not committed");
        }

        if (_log.Term(_log.Committed) != _term && !Bug(RaftTestBugs.ConfigChangeBeforeTermCommit))
        {
            return ProposeResult.Rejected(ProposeStatus.LeaderNotReady, Id, "leader has not committed an entry of its term");
        }

        if (change.Member.Id == Id && change.Type is ConfigChangeType.Remove or ConfigChangeType.Rejoin)
        {
            return ProposeResult.Rejected(ProposeStatus.InvalidConfigChange, Id, "the leader cannot remove itself; transfer leadership first");
        }

        var next = Config.Apply(change, out var error);
        if (next is null)
        {
            return ProposeResult.Rejected(ProposeStatus.InvalidConfigChange, Id, error);
        }

        var index = _log.LastIndex + 1;
        AppendAsLeader([new LogEntry(index, _term, EntryType.Config, next.Encode())]);
        BroadcastAppend(sendIfEmpty: false);
        return new ProposeResult(ProposeStatus.Accepted, Id, _term, index, index);
    }

    /// <summary>Promotes a caught-up auto-promoting learner (one change at a time).</summary>
    private void MaybePromote(Progress pr)
    {
        if (CanChangeMembership() && Config.TryGetMember(pr.Id, out var member, out var isVoter) && !isVoter && member.AutoPromote &&
            pr.Incarnation == member.Incarnation && pr.Match >= _log.Committed)
        {
            ProposeMembershipChange(new ConfigChange(ConfigChangeType.PromoteLearner, member));
        }
    }

    /// <summary>
    /// Another incarnation of the member <paramref name="pr"/> tracks has just been heard from. It replaces the
    /// configured one (as an auto-promoting learner) only if the configured incarnation has been silent for an
    /// election timeout: while the configured one answers it holds the data and keeps counting, whichever of the two
    /// is newer (in Orleans a duplicate activation is brief, and the one that survives may be either). And only while
    /// every other voter answers (<see cref="OtherVotersAnswer"/>): the rejoin takes the member's vote away at once.
    /// </summary>
    private void MaybeRejoin(Progress pr, long incarnation)
    {
        if (_ticks - pr.LastHeard >= _options.ElectionTicks && CanChangeMembership() && OtherVotersAnswer(pr.Id))
        {
            ProposeMembershipChange(new ConfigChange(ConfigChangeType.Rejoin, new Member(pr.Id, incarnation)));
        }
    }

    /// <summary>
    /// Whether every voter but this leader and <paramref name="leaving"/> answered within the last two heartbeats at its
    /// configured incarnation. A rejoin shrinks the voters onto the others until the new incarnation is promoted; if one
    /// of them is silent too, it may be gone for good (one silo's death can end two activations: its own replica and, in
    /// Orleans, those whose directory entry it held; a stand-in's slot then comes back elsewhere under another
    /// incarnation), and a configuration whose quorum needs it could never elect again, while the one that still names
    /// <paramref name="leaving"/> elects as soon as it is back. Silence only delays a rejoin: the member's next message
    /// asks again.
    /// </summary>
    private bool OtherVotersAnswer(long leaving)
    {
        foreach (var v in Config.VoterArray)
        {
            if (v.Id == Id || v.Id == leaving)
            {
                continue;
            }

            if (!_progress.TryGetValue(v.Id, out var pr) || pr.Incarnation != v.Incarnation ||
                _ticks - pr.LastHeard > 2 * _options.HeartbeatTicks)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Leader: the host learned that incarnation <paramref name="incarnation"/> of member <paramref name="id"/> has
    /// stopped for good (it moved to another host). It counts as silent from now on, so another incarnation of the
    /// member that shows up is rejoined at once instead of after an election timeout. Safe whatever the host says:
    /// silence only decides when a rejoin is proposed, never whether one is safe.
    /// </summary>
    public void MemberLeft(long id, long incarnation)
    {
        if (Role == RaftRole.Leader && id != Id && _progress.TryGetValue(id, out var pr) && pr.Incarnation == incarnation)
        {
            pr.LastHeard = Math.Min(pr.LastHeard, _ticks - _options.ElectionTicks);
            pr.RecentActive = false;
        }
    }

    private bool CanChangeMembership() =>
        _options.AutoMembership && _leadTransferee == 0 && _log.Meta.ConfigIndex <= _log.Committed && _log.Term(_log.Committed) == _term;

    /// <summary>
    /// Leader: one progress per member other than itself, for the incarnation the configuration names, created
    /// optimistically at the log end (a configuration naming another incarnation of a replica replaces its progress:
    /// the new incarnation holds none of what the old one acknowledged).
    /// </summary>
    private void SyncProgress()
    {
        if (Role != RaftRole.Leader)
        {
            return;
        }

        var config = Config;
        foreach (var m in config.VoterArray)
        {
            AddProgress(m);
        }

        foreach (var m in config.LearnerArray)
        {
            AddProgress(m);
        }

        // Every time, not only when there are more progresses than members: the leader has none of its own, so after
        // one member is added and another removed the counts say nothing, and the removed one would be sent
        // heartbeats (and Appends) for the rest of the term. Removing while enumerating is allowed for a Dictionary.
        foreach (var id in _progress.Keys)
        {
            if (!config.TryGetMember(id, out _, out _))
            {
                _progress.Remove(id);
            }
        }

        if (_leadTransferee != 0 && !(config.TryGetMember(_leadTransferee, out _, out var isVoter) && isVoter))
        {
            _leadTransferee = 0;
        }
    }

    private void AddProgress(Member m)
    {
        if (m.Id != Id && !(_progress.TryGetValue(m.Id, out var pr) && pr.Incarnation == m.Incarnation))
        {
            _progress[m.Id] = new Progress(m.Id, m.Incarnation, _log.LastIndex + 1, _options.MaxInflightMessages, _options.MaxInflightBytes)
            {
                RecentActive = true,
                LastHeard = _ticks,
            };
        }
    }
}
