using Pyralog.Consensus;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// <see cref="AfterPersistSends"/>: a persist's messages leave from the commit thread only behind the previous persist's,
/// and what could not leave there is left to the grain.
/// </summary>
public sealed class AfterPersistSendsTests
{
    private readonly RecordingTransport _host = new(sendsFromAnyThread: true);

    [Fact]
    public void Messages_wait_for_the_grain_while_the_previous_persists_messages_do()
    {
        var previous = new AfterPersistSends(_host, 0, [Acknowledgement(2, index: 5)], previous: null); // its group was too big: never told
        var next = new AfterPersistSends(_host, 0, [Acknowledgement(2, index: 6)], previous);

        next.Committed();
        Assert.Empty(_host.SentFromAnyThread);
        Assert.False(next.Left(Acknowledgement(2, index: 6)));

        previous.Settle(); // the grain sent the previous persist's messages: the next persist's may go at once
        var after = new AfterPersistSends(_host, 0, [Acknowledgement(2, index: 7)], next);
        next.Settle();
        after.Committed();
        Assert.Equal(7, MessageCodec.Decode(Assert.Single(_host.SentFromAnyThread).Envelope.Messages)[0].Index);
    }

    [Fact]
    public void Messages_go_from_the_commit_thread_behind_a_previous_persist_that_sent_from_there()
    {
        var previous = new AfterPersistSends(_host, 0, [Acknowledgement(2, index: 5)], previous: null);
        var next = new AfterPersistSends(_host, 0, [Acknowledgement(2, index: 6)], previous);
        previous.Committed();
        next.Committed();

        Assert.Equal([5L, 6L], _host.SentFromAnyThread.Select(s => MessageCodec.Decode(s.Envelope.Messages)[0].Index));
        Assert.True(next.Left(Acknowledgement(2, index: 6)));
    }

    [Fact]
    public void Each_target_gets_one_envelope_and_one_the_host_refused_is_left_to_the_grain()
    {
        var refusing = new RecordingTransport(sendsFromAnyThread: false);
        var vote = new Message { Type = MessageType.VoteResponse, To = 3, From = 1, FromIncarnation = 7, Term = 2 };
        var sends = new AfterPersistSends(refusing, 0, [Acknowledgement(2, index: 5), vote, Acknowledgement(2, index: 6)], previous: null);
        sends.Committed();
        Assert.False(sends.Left(vote));
        Assert.False(sends.Left(Acknowledgement(2, index: 5)));

        var accepted = new AfterPersistSends(_host, 0, [Acknowledgement(2, index: 5), vote, Acknowledgement(2, index: 6)], previous: null);
        accepted.Committed();
        var envelopes = _host.SentFromAnyThread.ToDictionary(s => s.To, s => MessageCodec.Decode(s.Envelope.Messages));
        Assert.Equal([5L, 6L], envelopes[2].Select(m => m.Index));
        Assert.Equal(MessageType.VoteResponse, Assert.Single(envelopes[3]).Type);
        Assert.True(accepted.Left(vote));
    }

    private static Message Acknowledgement(long to, long index) =>
        new() { Type = MessageType.AppendResponse, To = to, From = 1, FromIncarnation = 7, Term = 2, Index = index };
}
