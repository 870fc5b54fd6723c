using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Replication;

/*
 * The acknowledgements and vote grants that wait for one persist (PersistBatch.MessagesAfterPersist), sent by the store's
 * commit thread the moment the persist commits instead of in the grain's next turn, as etcd's asynchronous storage
 * writes deliver them from the storage goroutine. With one append in flight the wake-up of that turn was about a tenth
 * of a replicated append's latency (p50 20–45 µs, p90 120–180 µs on two busy cores).
 *
 * What it guarantees: a message leaves only once the persist it promises has committed (the store calls Committed only
 * then), and acknowledgements leave in persist order: this persist's messages go from the commit thread only when the
 * previous persist's have left already (sent from the commit thread, or by the grain). The store calls the listener only
 * for small commit groups and the transport may refuse a send it cannot order with its others (a held catch-up send);
 * whatever did not leave from the commit thread the grain sends after its await, as it did before (Left, Settle).
 *
 * Threading: constructed and settled on the grain's thread; Committed runs on the commit thread, before the write's task
 * completes, so what it wrote is visible to the grain after its await. Only _allSent and _settled are read across
 * threads without that ordering (by the next persist's Committed), hence volatile.
 */
internal sealed class AfterPersistSends : ICommittedWriteListener
{
    private readonly IReplicaTransport _transport;
    private readonly int _fromReplica;
    private readonly IReadOnlyList<Message> _messages;

    // Set by Committed, read by the grain after its await: the messages' targets and, per target, whether it left from
    // the commit thread. Null when Committed did not send (a busy store does not call it): nothing is made for that case.
    private long[]? _targets;
    private bool[]? _sent;

    // The previous persist's sends while they may still be waiting for the grain; null once they no longer matter.
    private AfterPersistSends? _previous;
    private volatile bool _allSent;
    private volatile bool _settled;

    public AfterPersistSends(IReplicaTransport transport, int fromReplica, IReadOnlyList<Message> messages, AfterPersistSends? previous)
    {
        _transport = transport;
        _fromReplica = fromReplica;
        _messages = messages;
        _previous = previous is { _allSent: false, _settled: false } ? previous : null;
    }

    public void Committed()
    {
        if (_previous is { _allSent: false, _settled: false })
        {
            return; // the previous persist's messages wait for the grain: these must not overtake them
        }

        _previous = null;
        var targets = Targets(_messages);
        var sent = new bool[targets.Length];
        var all = true;
        for (var i = 0; i < targets.Length; i++)
        {
            var envelope = new RaftEnvelope(_fromReplica, MessageCodec.Encode(For(targets[i])));
            sent[i] = _transport.TrySendFromAnyThread(targets[i], envelope);
            all &= sent[i];
        }

        _targets = targets;
        _sent = sent;
        _allSent = all;
    }

    /// <summary>On the grain's thread after the persist's await: whether <paramref name="message"/> left from the commit thread.</summary>
    public bool Left(in Message message) => _sent is { } sent && sent[Array.IndexOf(_targets!, message.To)];

    /// <summary>On the grain's thread once it has sent (or queued) every message that did not leave: later persists' may go.</summary>
    public void Settle()
    {
        _previous = null;
        _settled = true;
    }

    private Message[] For(long target)
    {
        var count = 0;
        foreach (var message in _messages)
        {
            count += message.To == target ? 1 : 0;
        }

        var messages = new Message[count];
        count = 0;
        foreach (var message in _messages)
        {
            if (message.To == target)
            {
                messages[count++] = message;
            }
        }

        return messages;
    }

    private static long[] Targets(IReadOnlyList<Message> messages)
    {
        var targets = new List<long>(1);
        foreach (var message in messages)
        {
            if (!targets.Contains(message.To))
            {
                targets.Add(message.To);
            }
        }

        return [.. targets];
    }
}
