using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>
/// Global knowledge the simulator checks every node against after every step:
/// election safety (one leader per term), log matching (entries with equal index and term have equal content and
/// equal predecessors' terms, which by induction makes whole prefixes equal), leader completeness (a new leader
/// holds every entry committed so far), state machine safety (nobody applies a different entry at an index) and
/// durability (the committed prefix only ever grows; every later commit and apply must agree with it); and promises
/// backed by the disk (a vote grant or a positive acknowledgement leaves only when the sender's durable state holds
/// what it promises, and a leader's term and own vote are durable).
/// </summary>
public sealed class SafetyMonitor
{
    private readonly Dictionary<long, (long Id, long Incarnation)> _leaders = [];
    private readonly Dictionary<(long Index, long Term), (long PrevTerm, EntryType Type, ReadOnlyMemory<byte> Data)> _entries = [];
    private readonly List<LogEntry> _committed = [new LogEntry(0, 0, EntryType.Normal, ReadOnlyMemory<byte>.Empty)];
    private readonly List<LogEntry> _scratch = [];

    /// <summary>Highest index known committed.</summary>
    public long CommittedIndex => _committed.Count - 1;

    public LogEntry CommittedAt(long index) => _committed[(int)index];

    public void ObserveRole(RaftNode node)
    {
        if (node.Role != RaftRole.Leader)
        {
            return;
        }

        if (_leaders.TryGetValue(node.Term, out var leader))
        {
            if (leader != (node.Id, node.Incarnation))
            {
                throw new SimulationFailure($"two leaders in term {node.Term}: {leader.Id}@{leader.Incarnation} and {node.Id}@{node.Incarnation}");
            }

            return;
        }

        _leaders[node.Term] = (node.Id, node.Incarnation);
        // Leader completeness: everything committed so far is in the new leader's log.
        var first = node.FirstIndex;
        if (node.LastIndex < CommittedIndex)
        {
            throw new SimulationFailure($"leader {node.Id} of term {node.Term} lacks committed entries: last {node.LastIndex} < committed {CommittedIndex}");
        }

        for (var i = Math.Max(first - 1, 1); i <= CommittedIndex; i++)
        {
            if (node.TermAt(i) != _committed[(int)i].Term)
            {
                throw new SimulationFailure($"leader {node.Id} of term {node.Term} has term {node.TermAt(i)} at committed index {i} (committed term {_committed[(int)i].Term})");
            }
        }
    }

    /// <summary>
    /// Checks entries as a node persists them (log matching); <paramref name="prevTerm"/> is the term the disk holds
    /// just before the first one.
    /// </summary>
    public void ObservePersist(RaftNode node, ReadOnlySpan<LogEntry> entries, long prevTerm)
    {
        for (var k = 0; k < entries.Length; k++)
        {
            var e = entries[k];
            prevTerm = k > 0 ? entries[k - 1].Term : prevTerm;
            if (_entries.TryGetValue((e.Index, e.Term), out var known))
            {
                if (known.PrevTerm != prevTerm || known.Type != e.Type || !known.Data.Span.SequenceEqual(e.Data.Span))
                {
                    throw new SimulationFailure($"log matching violated at node {node.Id}@{node.Incarnation} index {e.Index} term {e.Term}");
                }
            }
            else
            {
                _entries[(e.Index, e.Term)] = (prevTerm, e.Type, e.Data);
            }
        }
    }

    /// <summary>A node says everything up to <paramref name="commit"/> is committed: it must agree with the record.</summary>
    public void ObserveCommit(RaftNode node, long commit)
    {
        var from = Math.Max(node.FirstIndex, 1);
        for (var i = from; i <= Math.Min(commit, CommittedIndex); i++)
        {
            if (node.TermAt(i) != _committed[(int)i].Term)
            {
                throw new SimulationFailure($"node {node.Id}@{node.Incarnation} commits term {node.TermAt(i)} at {i}, but term {_committed[(int)i].Term} was committed there");
            }
        }

        if (commit > CommittedIndex)
        {
            if (from > CommittedIndex + 1)
            {
                // The node installed a snapshot past what anyone reported; its entries arrive when someone commits them.
                return;
            }

            _scratch.Clear();
            node.CopyEntries(CommittedIndex + 1, commit + 1, _scratch);
            _committed.AddRange(_scratch);
        }
    }

    public void ObserveApply(RaftNode node, in LogEntry e)
    {
        if (e.Index < _committed.Count)
        {
            var c = _committed[(int)e.Index];
            if (c.Term != e.Term || c.Type != e.Type || !c.Data.Span.SequenceEqual(e.Data.Span))
            {
                throw new SimulationFailure($"state machine safety: node {node.Id}@{node.Incarnation} applies term {e.Term} at {e.Index}, committed was term {c.Term}");
            }
        }
        else if (e.Index == _committed.Count)
        {
            _committed.Add(e);
        }
        else
        {
            throw new SimulationFailure($"node {node.Id} applies {e.Index} beyond known commit {CommittedIndex} with a gap");
        }
    }

    public void ObserveSnapshot(RaftNode node, RaftSnapshot s)
    {
        if (s.Index <= CommittedIndex && _committed[(int)s.Index].Term != s.Term)
        {
            throw new SimulationFailure($"node {node.Id} installs snapshot ({s.Index}, t{s.Term}) conflicting with committed term {_committed[(int)s.Index].Term}");
        }
    }

    /// <summary>
    /// A message is leaving <paramref name="node"/> whose disk is <paramref name="durable"/>: a vote grant needs the
    /// vote (or a later term) on disk, a positive acknowledgement of index i in term T needs entries up to i on disk,
    /// none of a term after T (else it acknowledges entries that were overwritten before they were written).
    /// </summary>
    public static void ObserveSend(RaftNode node, MemoryRaftStorage durable, Message m)
    {
        var hard = durable.HardState;
        if (m.Type == MessageType.VoteResponse && !m.Reject &&
            !(hard.Term > m.Term || (hard.Term == m.Term && hard.Vote == m.To && hard.VoteIncarnation == m.ToIncarnation)))
        {
            throw new SimulationFailure($"node {node.Id}@{node.Incarnation} grants its vote in term {m.Term} to {m.To}@{m.ToIncarnation} but its disk records term {hard.Term} vote {hard.Vote}@{hard.VoteIncarnation}");
        }

        if (m.Type == MessageType.Append && node.Role == RaftRole.Leader && node.Term == m.Term)
        {
            // Within its term a leader's log only grows: what it sends must be its own log (not stale disk contents).
            foreach (var e in m.Entries)
            {
                if (node.TermAt(e.Index) != e.Term)
                {
                    throw new SimulationFailure($"leader {node.Id}@{node.Incarnation} sends entry {e.Index}/t{e.Term} but its log has term {node.TermAt(e.Index)} there");
                }
            }
        }

        if (m.Type == MessageType.AppendResponse && !m.Reject && m.Index > 0)
        {
            var meta = durable.Metadata;
            if (m.Index > meta.LastIndex || (m.Index > meta.Snapshot.Index && meta.Term(m.Index) > m.Term))
            {
                throw new SimulationFailure($"node {node.Id}@{node.Incarnation} acknowledges index {m.Index} in term {m.Term} but its disk ends at {meta.LastIndex} (term {meta.Term(Math.Min(m.Index, meta.LastIndex))})");
            }
        }
    }

    /// <summary>A leader's term and its own vote are on its disk (it must not lead on a vote a crash could forget).</summary>
    public static void ObserveLeaderDurable(RaftNode node, MemoryRaftStorage durable)
    {
        var hard = durable.HardState;
        if (node.Role == RaftRole.Leader && (hard.Term != node.Term || hard.Vote != node.Id || hard.VoteIncarnation != node.Incarnation))
        {
            throw new SimulationFailure($"leader {node.Id}@{node.Incarnation} of term {node.Term} has term {hard.Term} vote {hard.Vote}@{hard.VoteIncarnation} on disk");
        }
    }

    /// <summary>Committed entries handed to the application are on the node's disk (or under its snapshot).</summary>
    public static void ObserveApplyDurable(RaftNode node, MemoryRaftStorage durable, in LogEntry e)
    {
        var meta = durable.Metadata;
        if (e.Index > meta.Snapshot.Index && (e.Index > meta.LastIndex || meta.Term(e.Index) != e.Term))
        {
            throw new SimulationFailure($"node {node.Id}@{node.Incarnation} applies {e.Index}/t{e.Term} which its disk does not hold (disk ends at {meta.LastIndex})");
        }
    }
}
