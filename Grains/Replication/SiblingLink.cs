using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>
/// The envelopes one sibling replica sent to this one, handed to the Raft node in the order they were sent.
/// <para>
/// Orleans does not promise to deliver messages in the order they were sent (one-way messages overtake each other on
/// a loaded silo: two connections between a pair of silos, forwarding, retries). Raft stays safe under reordering, but
/// not fast: an Append arriving before the one it follows leaves a gap at the follower, which refuses it, and the leader
/// falls back from pipelining to probing and sends again everything the follower had not yet acknowledged. Under a
/// 1 GiB fill that was most of what leaders sent. So each sender numbers its envelopes per target (<see cref="RaftEnvelope.Sequence"/>
/// within one activation, <see cref="RaftEnvelope.Link"/>), and the receiver holds an envelope that arrives ahead of
/// a missing one until the missing one arrives or a short window passes.
/// </para>
/// <para>
/// Guarantees: an envelope is handed on at most once and never held longer than the window (plus a timer's lateness)
/// or behind more than <see cref="MaxHeld"/> others; within one link, everything handed on in order is in send order.
/// Not guaranteed, and not needed by Raft: that nothing is lost (a missing envelope is given up after the window and
/// handed on if it comes later), or order across a sender's activations (a new link starts over).
/// </para>
/// </summary>
internal sealed class SiblingLink
{
    /// <summary>Held envelopes at most; past that the oldest gap is given up at once (a sender far ahead lost one).</summary>
    public const int MaxHeld = 256;

    // Invariant: while _link != 0, every envelope of _link numbered below _next was handed on or given up, and _held
    // holds only envelopes of _link numbered above _next, with the TimeProvider timestamp each arrived at.
    private long _link;
    private long _next;
    private readonly SortedList<long, (RaftEnvelope Envelope, long ArrivedAt)> _held = [];

    /// <summary>Envelopes held, waiting for one sent before them.</summary>
    public int Held => _held.Count;

    /// <summary>When the envelope held longest arrived (only while <see cref="Held"/> is not 0).</summary>
    public long OldestArrival
    {
        get
        {
            var oldest = long.MaxValue;
            foreach (var (_, arrivedAt) in _held.Values)
            {
                oldest = Math.Min(oldest, arrivedAt);
            }

            return oldest;
        }
    }

    /// <summary>
    /// Takes an envelope that arrived at <paramref name="now"/> (a TimeProvider timestamp); adds to
    /// <paramref name="ready"/> what may be handed on, in order.
    /// </summary>
    public EnvelopeArrival Accept(RaftEnvelope envelope, long now, List<RaftEnvelope> ready)
    {
        if (envelope.Link == 0)
        {
            ready.Add(envelope);
            return EnvelopeArrival.InOrder;
        }

        if (envelope.Link != _link)
        {
            // The sender re-activated: what the old activation sent and is held here goes on (Raft ignores what is
            // stale), and the new activation's numbering starts with this envelope.
            ReleaseAll(ready);
            _link = envelope.Link;
            _next = envelope.Sequence;
        }

        if (envelope.Sequence < _next)
        {
            ready.Add(envelope);
            return EnvelopeArrival.Late;
        }

        if (envelope.Sequence > _next)
        {
            _held[envelope.Sequence] = (envelope, now);
            if (_held.Count > MaxHeld)
            {
                GiveUpFirstGap(ready);
            }

            return EnvelopeArrival.Ahead;
        }

        ready.Add(envelope);
        _next++;
        ReleaseInOrder(ready);
        return EnvelopeArrival.InOrder;
    }

    /// <summary>
    /// Gives up gaps, first to last, while some envelope has been held since <paramref name="heldBefore"/> or earlier
    /// (the first gap is as old as the oldest envelope held), handing on what follows each. Returns the gaps given up.
    /// </summary>
    public int Expire(long heldBefore, List<RaftEnvelope> ready)
    {
        var gaps = 0;
        while (_held.Count > 0 && OldestArrival <= heldBefore)
        {
            GiveUpFirstGap(ready);
            gaps++;
        }

        return gaps;
    }

    private void GiveUpFirstGap(List<RaftEnvelope> ready)
    {
        _next = _held.GetKeyAtIndex(0);
        ReleaseInOrder(ready);
    }

    private void ReleaseInOrder(List<RaftEnvelope> ready)
    {
        while (_held.Count > 0 && _held.GetKeyAtIndex(0) == _next)
        {
            ready.Add(_held.GetValueAtIndex(0).Envelope);
            _held.RemoveAt(0);
            _next++;
        }
    }

    private void ReleaseAll(List<RaftEnvelope> ready)
    {
        foreach (var (envelope, _) in _held.Values)
        {
            ready.Add(envelope);
        }

        _held.Clear();
    }
}
