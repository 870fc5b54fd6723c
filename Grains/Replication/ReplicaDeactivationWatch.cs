namespace Pyralog.Grains.Replication;

/// <summary>
/// Tells a replica grain when Orleans starts to deactivate it. Orleans' default grain directory deactivates, when a
/// silo dies, every activation whose directory entry that silo held, leaders on the surviving silos among them. A
/// deactivating activation receives no more messages but finishes deactivating only once its running requests return,
/// and a leader's appends wait for commits that can no longer arrive: each waited out its 10 s timeout, and the
/// partition had no leader that long. Orleans calls this observer as the deactivation starts; the replica's own
/// scheduler then fails what is pending (see <see cref="ReplicaDriver.OnDeactivating"/>).
/// </summary>
internal sealed class ReplicaDeactivationWatch : IActivationWorkingSetObserver
{
    public void OnDeactivating(IActivationWorkingSetMember member)
    {
        if (member is IGrainContext { GrainInstance: ReplicaGrain grain } context)
        {
            context.Scheduler.QueueAction(grain.OnDeactivating);
        }
    }
}
