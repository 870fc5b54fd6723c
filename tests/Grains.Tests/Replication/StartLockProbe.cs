using System.Reflection;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Counts the calls into replica grains, and those invoked while the thread holds the lock Orleans takes on an
/// activation to start it (<c>ActivationData.Start</c>: its <c>_lock</c>, a <see cref="Lock"/>). A call invoked under it can deadlock with a sibling replica doing the same (see ReplicaGrain's design
/// comment). Counts are static: only <see cref="ReplicaStartLockTests"/>' silo runs this filter.
/// </summary>
internal sealed class StartLockProbe : IIncomingGrainCallFilter
{
    private static long s_calls;
    private static long s_underStartLock;

    public static long Calls => Interlocked.Read(ref s_calls);

    public static long UnderStartLock => Interlocked.Read(ref s_underStartLock);

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.TargetContext.GrainInstance is ReplicaGrain)
        {
            Interlocked.Increment(ref s_calls);
            if (HoldsStartLock(context.TargetContext))
            {
                Interlocked.Increment(ref s_underStartLock);
            }
        }

        return context.Invoke();
    }

    // An Orleans that names or types the lock otherwise fails the call (and the test) instead of passing unprobed.
    private static bool HoldsStartLock(IGrainContext activation) =>
        activation.GetType().GetField("_lock", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(activation) is Lock startLock
            ? startLock.IsHeldByCurrentThread
            : throw new InvalidOperationException($"{activation.GetType().FullName} has no _lock of type Lock: the probe cannot see Orleans' activation start lock");
}
