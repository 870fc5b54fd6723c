using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Putting one sibling's envelopes back in send order: an envelope ahead of a missing one waits until the missing one
/// arrives, or until the gap is given up (window or count), and every envelope is handed on exactly once.
/// </summary>
public sealed class SiblingLinkTests
{
    private const long Link = 42;
    private readonly List<RaftEnvelope> _ready = [];

    private static RaftEnvelope Envelope(long sequence, long link = Link) => new(1, [], Link: link, Sequence: sequence);

    private long[] Ready()
    {
        var sequences = _ready.Select(e => e.Sequence).ToArray();
        _ready.Clear();
        return sequences;
    }

    [Fact]
    public void Envelopes_in_send_order_are_handed_on_at_once()
    {
        var link = new SiblingLink();
        for (var s = 1; s <= 3; s++)
        {
            Assert.Equal(EnvelopeArrival.InOrder, link.Accept(Envelope(s), now: s, _ready));
        }

        Assert.Equal([1L, 2, 3], Ready());
        Assert.Equal(0, link.Held);
    }

    [Fact]
    public void Envelopes_ahead_of_a_missing_one_wait_for_it_and_follow_it_in_order()
    {
        var link = new SiblingLink();
        link.Accept(Envelope(1), now: 0, _ready);
        Assert.Equal(EnvelopeArrival.Ahead, link.Accept(Envelope(3), now: 1, _ready));
        Assert.Equal(EnvelopeArrival.Ahead, link.Accept(Envelope(4), now: 2, _ready));
        Assert.Equal([1L], Ready());
        Assert.Equal((2, 1L), (link.Held, link.OldestArrival));

        Assert.Equal(EnvelopeArrival.InOrder, link.Accept(Envelope(2), now: 3, _ready));
        Assert.Equal([2L, 3, 4], Ready());
        Assert.Equal(0, link.Held);
    }

    [Fact]
    public void A_gap_is_given_up_once_its_oldest_envelope_waited_the_window_and_its_envelope_comes_late()
    {
        var link = new SiblingLink();
        link.Accept(Envelope(1), now: 0, _ready);
        link.Accept(Envelope(3), now: 10, _ready);
        link.Accept(Envelope(6), now: 20, _ready);
        Ready();

        Assert.Equal(0, link.Expire(heldBefore: 9, _ready)); // nothing waited long enough
        Assert.Empty(Ready());
        Assert.Equal(1, link.Expire(heldBefore: 10, _ready)); // gives up 2; 6 has not waited long enough behind 4 and 5
        Assert.Equal([3L], Ready());
        Assert.Equal(1, link.Expire(heldBefore: 20, _ready));
        Assert.Equal([6L], Ready());

        // What was given up is handed on when it comes after all (Raft drops what is stale), and so is a duplicate.
        Assert.Equal(EnvelopeArrival.Late, link.Accept(Envelope(2), now: 30, _ready));
        Assert.Equal(EnvelopeArrival.Late, link.Accept(Envelope(5), now: 31, _ready));
        Assert.Equal(EnvelopeArrival.InOrder, link.Accept(Envelope(7), now: 32, _ready));
        Assert.Equal([2L, 5, 7], Ready());
    }

    [Fact]
    public void Too_many_held_envelopes_give_up_the_first_gap_at_once()
    {
        var link = new SiblingLink();
        link.Accept(Envelope(1), now: 0, _ready);
        for (var s = 3; s < 3 + SiblingLink.MaxHeld; s++)
        {
            link.Accept(Envelope(s), now: s, _ready);
        }

        Assert.Equal([1L], Ready());
        Assert.Equal(SiblingLink.MaxHeld, link.Held);

        link.Accept(Envelope(3 + SiblingLink.MaxHeld), now: 1000, _ready);
        Assert.Equal(Enumerable.Range(3, SiblingLink.MaxHeld + 1).Select(s => (long)s), Ready());
        Assert.Equal(0, link.Held);
    }

    [Fact]
    public void A_new_activation_of_the_sender_starts_a_new_order_and_what_the_old_one_left_goes_on()
    {
        var link = new SiblingLink();
        link.Accept(Envelope(1), now: 0, _ready);
        link.Accept(Envelope(3), now: 1, _ready);
        Assert.Equal([1L], Ready());

        Assert.Equal(EnvelopeArrival.InOrder, link.Accept(Envelope(5, link: 7), now: 2, _ready));
        Assert.Equal([3L, 5], Ready());
        Assert.Equal(EnvelopeArrival.Ahead, link.Accept(Envelope(7, link: 7), now: 3, _ready));
        Assert.Equal(EnvelopeArrival.InOrder, link.Accept(Envelope(6, link: 7), now: 4, _ready));
        Assert.Equal([6L, 7], Ready());
    }

    [Fact]
    public void Envelopes_from_senders_that_do_not_number_them_pass_straight_through()
    {
        var link = new SiblingLink();
        link.Accept(Envelope(1), now: 0, _ready);
        link.Accept(Envelope(3), now: 1, _ready);
        Assert.Equal(EnvelopeArrival.InOrder, link.Accept(new RaftEnvelope(-1, [], Wake: true), now: 2, _ready));
        Assert.Equal([1L, 0], Ready());
        Assert.Equal(1, link.Held);
    }
}
