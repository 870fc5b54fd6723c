using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>A producer the table does not remember: accepted only at sequence 0, refused at any other (KIP-360's rule).</summary>
public sealed class ProducerTableTests
{
    private const ulong StoreLog = 3 << 24;

    [Fact]
    public void An_unknown_producers_batch_is_next_at_sequence_0()
    {
        var table = ProducerTable.Empty(StoreLog);
        Assert.Equal(SequenceCheck.Next, table.Check(11, 0, 3, out var original, out var expected));
        Assert.Equal((default(AppendAck), -1L), (original, expected));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(long.MaxValue)]
    public void An_unknown_producers_batch_past_sequence_0_is_refused(long sequence)
    {
        var table = ProducerTable.Empty(StoreLog);
        table.Apply(12, 0, 5, epoch: 1, firstOffset: 0, index: 2); // another producer is remembered: it does not count
        Assert.Equal(SequenceCheck.UnknownProducer, table.Check(11, sequence, 1, out var original, out var expected));
        Assert.Equal((default(AppendAck), -1L), (original, expected));
    }

    [Fact]
    public void A_producer_forgotten_beyond_MaxProducers_is_refused_at_its_next_sequence_and_accepted_anew_at_0()
    {
        var table = ProducerTable.Empty(StoreLog);
        var index = 2L;
        table.Apply(5, 0, 2, epoch: 1, firstOffset: 0, index: index++);
        table.Apply(5, 2, 1, epoch: 1, firstOffset: 2, index: index++);
        Assert.Equal(SequenceCheck.Next, table.Check(5, 3, 1, out _, out var expected));
        Assert.Equal(3, expected);

        // MaxProducers producers applied after it: producer 5's last batch is the least recent, so it is the one forgotten.
        for (var producer = 100L; producer < 100 + ProducerTable.MaxProducers; producer++)
        {
            table.Apply(producer, 0, 1, epoch: 1, firstOffset: (ulong)index, index: index++);
        }

        Assert.Equal(ProducerTable.MaxProducers, table.Count);
        Assert.Equal(SequenceCheck.UnknownProducer, table.Check(5, 3, 1, out _, out expected)); // its next batch
        Assert.Equal(-1, expected);
        Assert.Equal(SequenceCheck.UnknownProducer, table.Check(5, 2, 1, out var original, out _)); // a retry of its last batch: not appended again
        Assert.Equal(default, original);
        Assert.Equal(SequenceCheck.Next, table.Check(5, 0, 1, out _, out _)); // a first batch, as a new producer sends it
        Assert.Equal(SequenceCheck.Duplicate, table.Check(100, 0, 1, out _, out _)); // the others are remembered
    }
}
