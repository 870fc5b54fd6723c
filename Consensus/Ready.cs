namespace Pyralog.Consensus;

/// <summary>
/// Everything a node needs the host to do after some input, handled in this order:
/// 1. start persisting <see cref="ToPersist"/> (if not null) and keep it: it completes asynchronously;
/// 2. send <see cref="Messages"/> now (they promise nothing about the local disk);
/// 3. apply <see cref="CommittedEntries"/> in order (they are always durable locally);
/// 4. answer <see cref="ReadStates"/> once the applied index reaches each one's index;
/// 5. call <see cref="RaftNode.Advance"/>.
/// The instance, its lists and spans are owned by the node and valid only until Advance; no other node call is
/// allowed in between. <see cref="ToPersist"/> is the host's to keep. While it is in flight the host keeps stepping
/// and ticking the node; when it is durable the host follows <see cref="PersistBatch"/>.
/// </summary>
public sealed class Ready
{
    internal readonly List<LogEntry> Committed = [];
    internal List<Message> MessageList = [];
    internal readonly List<ReadState> ReadStateList = [];

    public RaftRole Role { get; internal set; }

    public long Leader { get; internal set; }

    public PersistBatch? ToPersist { get; internal set; }

    public IReadOnlyList<Message> Messages => MessageList;

    public ReadOnlySpan<LogEntry> CommittedEntries => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Committed);

    public IReadOnlyList<ReadState> ReadStates => ReadStateList;
}
