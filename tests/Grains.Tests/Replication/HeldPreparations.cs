using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Once <see cref="Arm"/>ed, holds the next preparation of a partition replica in a slot from
/// <see cref="StarvedNewcomers.FirstStarvedSlot"/> on (a move's new replica, its step 2) until <see cref="Release"/>, so a
/// test can act between a run's step 1 and its step 3. Static: only <see cref="RacingMoveRemovalTests"/>' silos run this
/// filter.
/// </summary>
internal sealed class HeldPreparations : IIncomingGrainCallFilter
{
    private static readonly Lock s_lock = new();
    private static bool s_armed;
    private static TaskCompletionSource<string> s_first = New<string>();
    private static TaskCompletionSource<bool> s_released = New<bool>();

    /// <summary>The key of the replica whose preparation is held.</summary>
    public static Task<string> First => s_first.Task;

    public static void Arm()
    {
        lock (s_lock)
        {
            (s_first, s_released, s_armed) = (New<string>(), New<bool>(), true);
        }
    }

    public static void Release()
    {
        lock (s_lock)
        {
            s_armed = false;
            s_released.TrySetResult(true);
        }
    }

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.TargetContext.GrainInstance is IPartitionReplicaGrain && context.InterfaceMethod?.Name == nameof(IPartitionReplicaGrain.PrepareAsync) &&
            context.TargetContext.GrainId.Key.ToString() is { } key && ReplicaGrainKey.TryParse(key, out var parsed) && parsed.Replica >= StarvedNewcomers.FirstStarvedSlot)
        {
            Task released = Task.CompletedTask;
            lock (s_lock)
            {
                if (s_armed && s_first.TrySetResult(key))
                {
                    released = s_released.Task;
                }
            }

            await released;
        }

        await context.Invoke();
    }

    private static TaskCompletionSource<T> New<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
