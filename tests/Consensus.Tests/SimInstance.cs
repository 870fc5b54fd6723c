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

    /// <summary>1 = crash at the next Ready (losing the writes in flight); 2 = crash once the next write completes, before acknowledging it.</summary>
    public int CrashAtReady { get; set; }

    /// <summary>The next write completes only in part and the replica stops (a failed write is fatal to a host).</summary>
    public bool FailNextWrite { get; set; }

    /// <summary>Writes handed to the disk and not yet complete, oldest first (they complete in order).</summary>
    public Queue<PersistBatch> InFlight { get; } = new();

    public List<ReadState> PendingReads { get; } = [];

    /// <summary>The last term this instance's leadership was written to the schedule.</summary>
    public long LeaderLogged { get; set; }

    public string Name => $"{Id}@{Incarnation}";
}
