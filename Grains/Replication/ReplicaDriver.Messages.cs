using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>Envelopes in (decoded and stepped into the node, waking it or following a quiesce request) and out (each target's messages of a pass, in envelopes under the large-object threshold).</summary>
internal sealed partial class ReplicaDriver
{
    private readonly Dictionary<long, List<Message>> _outbox = [];
    private readonly List<byte[]> _encoded = []; // scratch of FlushOutbox, empty between calls

    public void Deliver(RaftEnvelope envelope)
    {
        if (_failure is not null || _disposed)
        {
            return;
        }

        Message[] messages;
        try
        {
            messages = MessageCodec.Decode(envelope.Messages);
        }
        catch (InvalidDataException e)
        {
            // Dropped like a message lost on the way (Raft recovers from those); thrown, it would stay at the head of the
            // replica's inbound queue and fail every envelope after it.
            _logger.LogWarning("Replica {Key} dropped an envelope from replica {From} that does not decode: {Reason}", _key, envelope.FromReplica, e.Message);
            return;
        }

        NoteHeard(envelope.FromReplica, messages);
        if (_leavingTicksLeft > 0)
        {
            return; // as if already gone (Leaving)
        }

        if (envelope.Wake)
        {
            if (_quiesced)
            {
                Wake("wake-request");
            }
            else
            {
                // Awake, perhaps counting down to quiescence: a silo died (or a follower woke), and a member heard just
                // before may be gone; it must not be frozen by the quiet spell that was about to start.
                _idleTicks = 0;
                _node.ForgetHeardForQuiescence();
            }
        }
        else if (!envelope.Quiesce && !OnlyHeartbeatResponses(messages))
        {
            Wake("message");
        }

        if (envelope.Greeting && envelope.FromReplica >= 0)
        {
            _transport.Send(RaftId(envelope.FromReplica), new RaftEnvelope(_replica, NoMessages));
        }

        if (envelope.LeavingIncarnation != 0)
        {
            _node.MemberLeft(RaftId(envelope.FromReplica), envelope.LeavingIncarnation); // after waking: a wake counts everyone active
        }

        try
        {
            foreach (var message in messages)
            {
                _node.Step(message);
            }

            if (_traced.Count > 0)
            {
                AdvanceTraces();
            }
        }
        catch (Exception e)
        {
            Fail(e); // e.g. entries a lagging follower needs could not be read back from the store
            return;
        }

        Pump();
        if (envelope.Quiesce && !_quiesced && _node.Role == RaftRole.Follower && _node.Leader == RaftId(envelope.FromReplica))
        {
            _quiesceAskedBy = _node.Leader;
            _quiesceAskedTerm = _node.Term;
            QuiesceAsAskedIfDone(atTick: false);
        }
        else if (_quiesceAskedBy == RaftId(envelope.FromReplica))
        {
            _quiesceAskedBy = 0;
        }
    }

    /// <summary>Answers to heartbeats, above all to the last ones a quiescing leader sent, must not wake it again.</summary>
    private static bool OnlyHeartbeatResponses(Message[] messages)
    {
        foreach (var m in messages)
        {
            if (m.Type != MessageType.HeartbeatResponse)
            {
                return false;
            }
        }

        return true;
    }

    private void Outbox(Message message)
    {
        if (!_outbox.TryGetValue(message.To, out var list))
        {
            _outbox[message.To] = list = [];
        }

        list.Add(message);
    }

    /// <summary>
    /// Sends each target's messages in envelopes of at most <see cref="EnvelopeBytes"/> (one message alone may be
    /// larger), so the arrays on both sides stay off the large-object heap.
    /// </summary>
    private void FlushOutbox()
    {
        foreach (var (to, messages) in _outbox)
        {
            MessageCodec.EncodeInEnvelopes(CollectionsMarshal.AsSpan(messages), EnvelopeBytes, _encoded);
            foreach (var encoded in _encoded)
            {
                _transport.Send(to, new RaftEnvelope(_replica, encoded, Quiesce: _markQuiesce));
            }

            _encoded.Clear();
            messages.Clear();
        }
    }
}
