using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Once <see cref="Arm"/>ed, holds at the partition leader the next replica removal and every later one of the same slot
/// until <see cref="Release"/>, so a test can run another removal in between (as another run of a move would); the first
/// held call's answer is <see cref="FirstAnswer"/>. Once a removal is held, additions of replicas are held too: the held
/// run's mover times its call out after 5 s and a next round would add the removed replica again, which a slow test
/// step must not let happen before the release. Static: only <see cref="RacingMoveRemovalTests"/>' silos run this filter.
/// </summary>
internal sealed class HeldRemovals : IIncomingGrainCallFilter
{
    private static readonly Lock s_lock = new();
    private static bool s_armed;
    private static int s_heldSlot = -1;
    private static TaskCompletionSource<(int Replica, int Successor, int Keep)> s_first = New<(int, int, int)>();
    private static TaskCompletionSource<string?> s_firstAnswer = New<string?>();
    private static TaskCompletionSource<bool> s_released = New<bool>();

    /// <summary>The first removal held since <see cref="Arm"/>: its slot, successor and slot to keep.</summary>
    public static Task<(int Replica, int Successor, int Keep)> First => s_first.Task;

    /// <summary>What the leader answered the first held removal once released.</summary>
    public static Task<string?> FirstAnswer => s_firstAnswer.Task;

    public static void Arm()
    {
        lock (s_lock)
        {
            (s_first, s_firstAnswer, s_released) = (New<(int, int, int)>(), New<string?>(), New<bool>());
            (s_armed, s_heldSlot) = (true, -1);
        }
    }

    /// <summary>Lets the held removals through; later ones are no longer held.</summary>
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
        if (context.TargetContext.GrainInstance is IPartitionReplicaGrain && context.InterfaceMethod?.Name == nameof(IPartitionReplicaGrain.AddReplicaAsync))
        {
            Task addition;
            lock (s_lock)
            {
                addition = s_armed && s_heldSlot >= 0 ? s_released.Task : Task.CompletedTask;
            }

            await addition;
        }
        else if (context.TargetContext.GrainInstance is IPartitionReplicaGrain &&
            context.InterfaceMethod?.Name == nameof(IPartitionReplicaGrain.RemoveReplicaAsync) && context.Request.GetArgumentCount() == 3 &&
            context.Request.GetArgument(0) is int replica && context.Request.GetArgument(1) is int successor && context.Request.GetArgument(2) is int keep)
        {
            Task released;
            TaskCompletionSource<string?>? answer = null;
            lock (s_lock)
            {
                released = s_released.Task;
                if (s_armed && s_heldSlot < 0)
                {
                    s_heldSlot = replica;
                    s_first.SetResult((replica, successor, keep));
                    answer = s_firstAnswer;
                }
                else if (!s_armed || s_heldSlot != replica)
                {
                    released = Task.CompletedTask;
                }
            }

            // The grain is reentrant: other calls to it, the test's removal among them, go on meanwhile.
            await released;
            try
            {
                await context.Invoke();
                answer?.TrySetResult((string?)context.Result);
            }
            catch (Exception e)
            {
                answer?.TrySetException(e);
                throw;
            }

            return;
        }

        await context.Invoke();
    }

    private static TaskCompletionSource<T> New<T>() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
