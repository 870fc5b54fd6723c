using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

public sealed class LocalReplicasTests
{
    [Fact]
    public void Siblings_are_the_other_active_replicas_of_the_same_partition_only()
    {
        var replicas = new LocalReplicas(null!, null!, null!, null!); // the sibling lookup reads only the active set
        replicas.Add(ReplicaGrainKey.Of(7, 2, 0), metadata: false);
        replicas.Add(ReplicaGrainKey.Of(7, 2, 1), metadata: false);
        replicas.Add(ReplicaGrainKey.Of(7, 2, 6), metadata: false); // the highest slot a move can use
        replicas.Add(ReplicaGrainKey.Of(7, 3, 1), metadata: false); // another partition
        replicas.Add(ReplicaGrainKey.Of(8, 2, 2), metadata: false); // another log
        replicas.Add(ReplicaGrainKey.Of(0, 2, 2), metadata: true);  // the metadata group's

        Assert.Equal(
            [(ReplicaGrainKey.Of(7, 2, 0), false), (ReplicaGrainKey.Of(7, 2, 6), false)],
            replicas.SiblingsActive(new ReplicaGrainKey(7, 2, 1)).ToArray());
        Assert.True(replicas.SiblingActive(new ReplicaGrainKey(7, 2, 3))); // a replica not active here still has its siblings
        Assert.False(replicas.SiblingActive(new ReplicaGrainKey(7, 3, 1)));
        Assert.Equal([(ReplicaGrainKey.Of(0, 2, 2), true)], replicas.SiblingsActive(new ReplicaGrainKey(0, 2, 0)).ToArray());

        replicas.Remove(ReplicaGrainKey.Of(7, 2, 0));
        Assert.Equal([(ReplicaGrainKey.Of(7, 2, 6), false)], replicas.SiblingsActive(new ReplicaGrainKey(7, 2, 1)).ToArray());
    }
}
