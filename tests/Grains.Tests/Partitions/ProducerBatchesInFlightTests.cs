using Pyralog.Grains.Partitions;

namespace Pyralog.Grains.Tests.Partitions;

public class ProducerBatchesInFlightTests
{
    private const long Producer = 42;

    [Fact]
    public void A_batch_in_flight_answers_its_resend_and_the_sequence_continues_after_the_last_one()
    {
        var batches = new ProducerBatchesInFlight();
        var first = new TaskCompletionSource<object?>().Task;
        var second = new TaskCompletionSource<object?>().Task;
        batches.Add(Producer, 0, 10, term: 5, first);
        batches.Add(Producer, 10, 10, term: 5, second);

        var (check, expected) = (SequenceCheck.UnknownProducer, -1L); // the table has applied none of them yet
        Assert.Same(second, batches.Refine(Producer, 10, 10, 5, ref check, ref expected));

        Assert.Null(batches.Refine(Producer, 20, 5, 5, ref check, ref expected));
        Assert.Equal((SequenceCheck.Next, 20L), (check, expected));
        (check, expected) = (SequenceCheck.UnknownProducer, -1L);
        Assert.Null(batches.Refine(Producer, 30, 5, 5, ref check, ref expected));
        Assert.Equal((SequenceCheck.Ahead, 20L), (check, expected));
        (check, expected) = (SequenceCheck.UnknownProducer, -1L);
        Assert.Null(batches.Refine(Producer, 5, 5, 5, ref check, ref expected));
        Assert.Equal((SequenceCheck.TooOld, 20L), (check, expected));

        batches.Forget(Producer, second);
        (check, expected) = (SequenceCheck.UnknownProducer, -1L);
        Assert.Null(batches.Refine(Producer, 10, 10, 5, ref check, ref expected));
        Assert.Equal((SequenceCheck.Next, 10L), (check, expected));
        batches.Forget(Producer, first);
        (check, expected) = (SequenceCheck.UnknownProducer, -1L);
        Assert.Null(batches.Refine(Producer, 0, 10, 5, ref check, ref expected));
        Assert.Equal((SequenceCheck.UnknownProducer, -1L), (check, expected)); // nothing in flight: the table's word stands
    }

    [Fact]
    public void Batches_of_an_earlier_term_do_not_count_once_the_leader_leads_a_later_one()
    {
        // Proposed in term 5 at indices another leader's entries replaced, then this replica leads term 7 (its first entry
        // applied): those batches will never be appended, though their proposals resolve only once their indices are
        // applied again.
        var batches = new ProducerBatchesInFlight();
        var replaced = new TaskCompletionSource<object?>().Task;
        batches.Add(Producer, 20, 10, term: 5, replaced);
        batches.Add(Producer, 30, 10, term: 5, new TaskCompletionSource<object?>().Task);

        // The producer resends from its oldest unacknowledged batch, which the table expects: appended, not refused as
        // too old (the sequence would continue from the replaced batches, at 40).
        var (check, expected) = (SequenceCheck.Next, 10L);
        Assert.Null(batches.Refine(Producer, 10, 10, 7, ref check, ref expected));
        Assert.Equal((SequenceCheck.Next, 10L), (check, expected));

        // A replaced batch sent again is proposed anew, not answered with the replaced proposal (which would hold it
        // until its index is applied again).
        (check, expected) = (SequenceCheck.Ahead, 10L);
        Assert.Null(batches.Refine(Producer, 20, 10, 7, ref check, ref expected));
        Assert.Equal((SequenceCheck.Ahead, 10L), (check, expected));

        var current = new TaskCompletionSource<object?>().Task;
        batches.Add(Producer, 10, 10, term: 7, current);
        Assert.Same(current, batches.Refine(Producer, 10, 10, 7, ref check, ref expected));
        (check, expected) = (SequenceCheck.Ahead, 10L);
        Assert.Null(batches.Refine(Producer, 20, 10, 7, ref check, ref expected));
        Assert.Equal((SequenceCheck.Next, 20L), (check, expected));
    }
}
