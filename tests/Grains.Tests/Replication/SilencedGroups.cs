using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// While <see cref="Log"/> names a log (0: none), drops every Raft envelope to its partitions' replicas: their groups
/// elect no leader (a leader steps down once it hears from no quorum), as groups that lost their quorum for good. Static:
/// only <see cref="RacingMoveRemovalTests"/>' silos run this filter.
/// </summary>
internal sealed class SilencedGroups : IIncomingGrainCallFilter
{
    private static long s_log;

    public static ulong Log
    {
        get => (ulong)Interlocked.Read(ref s_log);
        set => Interlocked.Exchange(ref s_log, (long)value);
    }

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (Log is var log and not 0 && context.TargetContext.GrainInstance is IPartitionReplicaGrain &&
            context.InterfaceMethod?.Name is nameof(IRaftReplicaGrain.DeliverAsync) or nameof(IRaftReplicaGrain.DeliverConfirmedAsync) &&
            ReplicaGrainKey.TryParse(context.TargetContext.GrainId.Key.ToString()!, out var key) && key.Log == log)
        {
            return Task.CompletedTask;
        }

        return context.Invoke();
    }
}
