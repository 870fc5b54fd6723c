using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// While <see cref="Starving"/> is set, drops every Raft envelope to a partition replica in a slot from
/// <see cref="FirstStarvedSlot"/> on (the new replicas of moves in a three-slot log): a move's newcomer copies nothing, and
/// the move is abandoned at its timeout. Static: only <see cref="RacingMoveRemovalTests"/>' silos run this filter.
/// </summary>
internal sealed class StarvedNewcomers : IIncomingGrainCallFilter
{
    public const int FirstStarvedSlot = 3;

    private static volatile bool s_starving;

    public static bool Starving
    {
        get => s_starving;
        set => s_starving = value;
    }

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (s_starving && context.TargetContext.GrainInstance is IPartitionReplicaGrain &&
            context.InterfaceMethod?.Name is nameof(IRaftReplicaGrain.DeliverAsync) or nameof(IRaftReplicaGrain.DeliverConfirmedAsync) &&
            ReplicaGrainKey.TryParse(context.TargetContext.GrainId.Key.ToString()!, out var key) && key.Replica >= FirstStarvedSlot)
        {
            return Task.CompletedTask;
        }

        return context.Invoke();
    }
}
