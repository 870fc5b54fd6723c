using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>
/// The synchronous convenience path for tests: a host whose disk is durable when a write returns handles a Ready by
/// writing its batch, acknowledging it at once and sending everything.
/// </summary>
internal static class SynchronousHost
{
    /// <summary>Handles one Ready: persist, apply, advance, acknowledge the batch; returns the messages to send.</summary>
    public static List<Message> HandleReady(RaftNode node, MemoryRaftStorage storage, List<LogEntry>? applied = null, List<ReadState>? reads = null)
    {
        var ready = node.GetReady();
        var batch = ready.ToPersist;
        if (batch is not null)
        {
            storage.Write(batch);
        }

        var messages = new List<Message>(ready.Messages);
        applied?.AddRange(ready.CommittedEntries.ToArray());
        reads?.AddRange(ready.ReadStates);
        node.Advance();
        if (batch is not null)
        {
            node.Persisted(batch.Mark);
            messages.AddRange(batch.MessagesAfterPersist);
        }

        return messages;
    }
}
