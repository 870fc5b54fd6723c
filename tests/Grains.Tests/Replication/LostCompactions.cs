using Pyralog.Consensus;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A replica's state machine whose compactions are lost while <see cref="Losing"/>: the driver still writes every applied
/// state, but the compaction a retention asked for is taken and dropped, so the store ends as a crash between the
/// applied-state write and the compaction write leaves it (new first offset, old snapshot, whole log).
/// </summary>
internal sealed class LostCompactions(IReplicaStateMachine machine) : IReplicaStateMachine
{
    public bool Losing { get; set; } = true;

    /// <summary>The Raft indexes of the compactions dropped so far.</summary>
    public List<long> Lost { get; } = [];

    public long AppliedIndex => machine.AppliedIndex;

    public bool HasUnwritten => machine.HasUnwritten;

    public object? Apply(in LogEntry entry) => machine.Apply(entry);

    public void Restore(RaftSnapshot snapshot) => machine.Restore(snapshot);

    public bool TakeUnwritten(WriteBatch write) => machine.TakeUnwritten(write);

    public void Written() => machine.Written();

    public (long Index, byte[] Data)? TakeCompaction(RaftSnapshot current)
    {
        var compaction = machine.TakeCompaction(current);
        if (!Losing || compaction is not { } lost)
        {
            return compaction;
        }

        Lost.Add(lost.Index);
        return null;
    }
}
