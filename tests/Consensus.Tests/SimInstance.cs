using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>One running incarnation of a replica in the simulator: its disk, its volatile node and state machine.</summary>
internal sealed class SimInstance(long id, long incarnation, MemoryRaftStorage storage, RaftNode node)
{
    public long Id { get; } = id;

    public long Incarnation { get; } = incarnation;

    public MemoryRaftStorage Storage { get; } = storage;

    public RaftNode Node { get; } = node;

    public KvStateMachine Kv { get; } = new();

    public bool Alive { get; set; } = true;

    /// <summary>Crash at the next Ready: 1 = before persisting it, 2 = after persisting, before sending.</summary>
    public int CrashAtReady { get; set; }

    public List<ReadState> PendingReads { get; } = [];

    /// <summary>The last term this instance's leadership was written to the schedule.</summary>
    public long LeaderLogged { get; set; }

    public string Name => $"{Id}@{Incarnation}";
}
