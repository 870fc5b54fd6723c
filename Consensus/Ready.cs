namespace Pyralog.Consensus;

/// <summary>
/// Everything a node needs the host to do, handled in this order:
/// 1. persist <see cref="Snapshot"/> (if any), <see cref="Entries"/> and <see cref="HardState"/> (if
///    <see cref="HardStateChanged"/>) durably;
/// 2. only then send <see cref="Messages"/> (votes and acknowledgements in them promise that state is durable);
/// 3. install <see cref="Snapshot"/> into the state machine and apply <see cref="CommittedEntries"/> in order;
/// 4. answer <see cref="ReadStates"/> once the applied index reaches each one's index;
/// 5. call <see cref="RaftNode.Advance"/>.
/// The instance and its spans are owned by the node and valid only until Advance; no other node call is allowed
/// in between.
/// </summary>
public sealed class Ready
{
    internal ArraySegment<LogEntry> EntriesSegment;
    internal readonly List<LogEntry> Committed = [];
    internal List<Message> MessageList = [];
    internal readonly List<ReadState> ReadStateList = [];

    public HardState HardState { get; internal set; }

    public bool HardStateChanged { get; internal set; }

    public RaftRole Role { get; internal set; }

    public long Leader { get; internal set; }

    public RaftSnapshot? Snapshot { get; internal set; }

    public ReadOnlySpan<LogEntry> Entries => EntriesSegment.AsSpan();

    public IReadOnlyList<Message> Messages => MessageList;

    public ReadOnlySpan<LogEntry> CommittedEntries => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(Committed);

    public IReadOnlyList<ReadState> ReadStates => ReadStateList;

    /// <summary>Step 1 on a storage that is durable once each call returns: snapshot, then entries, then hard state.</summary>
    public void PersistTo(IRaftStorage storage)
    {
        if (Snapshot is not null)
        {
            storage.InstallSnapshot(Snapshot);
        }

        storage.Append(Entries);
        if (HardStateChanged)
        {
            storage.SetHardState(HardState);
        }
    }
}
