using System.Diagnostics;
using Pyralog.Consensus;
using Pyralog.Grains.Diagnostics;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Spans of a traced proposal's way to the disks: under the caller's recorded <c>pyralog.partition.append</c> span, one
/// <c>pyralog.persist</c> span until this leader's own disk holds the entry and one <c>pyralog.replicate</c> span per
/// other voter until the leader learns that voter holds it durably (a follower slower than the quorum ends its span
/// after the append answered). Nothing is kept when no one records the append span.
/// </summary>
internal sealed partial class ReplicaDriver
{
    /// <summary>Traced proposals kept at most; older ones end their open spans unfinished (a voter that never answers).</summary>
    private const int TracedProposalLimit = 256;

    // Invariant: one entry per proposal made under a recorded append span, oldest first, until each of its spans ended;
    // empty whenever nothing is traced, so the message path pays one count check.
    private readonly List<TracedProposal> _traced = [];

    private sealed class TracedProposal(long index, Activity?[] spans, long[] ids)
    {
        public long Index { get; } = index;

        // Invariant: Spans[i] is the open span of voter Ids[i] (this node's own id for the persist span), null once ended.
        public Activity?[] Spans { get; } = spans;

        public long[] Ids { get; } = ids;
    }

    /// <summary>Starts the persist and replicate spans of the proposal at <paramref name="index"/> when the caller's append span is recorded.</summary>
    private void TraceProposal(long index)
    {
        if (Activity.Current is not { Recorded: true } parent || parent.Source != ReplicationInstruments.Source)
        {
            return;
        }

        var voters = _node.Config.Voters;
        var spans = new Activity?[voters.Count];
        var ids = new long[voters.Count];
        for (var i = 0; i < voters.Count; i++)
        {
            ids[i] = voters[i].Id;
            var self = voters[i].Id == _node.Id;
            spans[i] = ReplicationInstruments.Source.StartActivity(self ? "pyralog.persist" : "pyralog.replicate", ActivityKind.Internal, parent.Context)?
                .SetTag("pyralog.replica", Replica(voters[i].Id))
                .SetTag("pyralog.index", index);
        }

        Activity.Current = parent; // the spans started above are siblings under the append, not the caller's current span
        if (_traced.Count == TracedProposalLimit)
        {
            EndTraced(_traced[0], "no durable acknowledgement before newer proposals took its place");
            _traced.RemoveAt(0);
        }

        _traced.Add(new TracedProposal(index, spans, ids));
    }

    /// <summary>Ends the spans of every traced proposal whose voter now holds it durably (after a step or a persist).</summary>
    private void AdvanceTraces()
    {
        if (_node.Role != RaftRole.Leader)
        {
            foreach (var traced in _traced)
            {
                EndTraced(traced, "the leader stepped down");
            }

            _traced.Clear();
            return;
        }

        var anyDone = false;
        foreach (var traced in _traced)
        {
            var open = false;
            for (var i = 0; i < traced.Spans.Length; i++)
            {
                if (traced.Spans[i] is { } span)
                {
                    if (_node.DurableIndexOf(traced.Ids[i]) >= traced.Index)
                    {
                        span.Stop();
                        traced.Spans[i] = null;
                    }
                    else
                    {
                        open = true;
                    }
                }
            }

            anyDone |= !open;
        }

        if (anyDone)
        {
            _traced.RemoveAll(t => Array.TrueForAll(t.Spans, s => s is null));
        }
    }

    /// <summary>Ends every traced span still open (the driver stops).</summary>
    private void EndAllTraces(string why)
    {
        foreach (var traced in _traced)
        {
            EndTraced(traced, why);
        }

        _traced.Clear();
    }

    private static void EndTraced(TracedProposal traced, string why)
    {
        for (var i = 0; i < traced.Spans.Length; i++)
        {
            if (traced.Spans[i] is { } span)
            {
                span.SetStatus(ActivityStatusCode.Error, why);
                span.Stop();
                traced.Spans[i] = null;
            }
        }
    }
}
