using System.Net;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Http;

namespace Pyralog.Silo.Tests.Http;

/// <summary>The silos Pyralog's page lists, with the partition replicas and leaders each runs.</summary>
public sealed class ClusterOverviewTests
{
    private static readonly IPEndPoint First = new(IPAddress.Loopback, 11111);
    private static readonly IPEndPoint Second = new(IPAddress.Loopback, 11112);

    [Fact]
    public void A_silo_restarted_on_its_endpoint_counts_its_replicas_and_its_dead_predecessor_none()
    {
        var dead = SiloAddress.New(First, 100);
        var restarted = SiloAddress.New(First, 200);
        var other = SiloAddress.New(Second, 150);
        var hosts = new Dictionary<SiloAddress, SiloStatus> { [dead] = SiloStatus.Dead, [restarted] = SiloStatus.Active, [other] = SiloStatus.Active };
        PartitionDescription[] partitions =
        [
            Partition(0, (restarted, ReplicaRole.Leader), (other, ReplicaRole.Follower)),
            Partition(1, (restarted, ReplicaRole.Follower), (other, ReplicaRole.Leader)),
            Partition(2, (restarted, ReplicaRole.Leader), (other, ReplicaRole.Learner)),
        ];

        var silos = ClusterOverview.Silos(hosts, restarted, partitions);

        Assert.Equal(
            [
                new SiloOverview(dead.ToParsableString(), "127.0.0.1:11111", "Dead", false, 0, 0),
                new SiloOverview(restarted.ToParsableString(), "127.0.0.1:11111", "Active", true, 3, 2),
                new SiloOverview(other.ToParsableString(), "127.0.0.1:11112", "Active", false, 3, 1),
            ],
            silos);
    }

    [Fact]
    public void A_replica_that_did_not_answer_counts_for_no_silo()
    {
        var silo = SiloAddress.New(First, 100);
        var hosts = new Dictionary<SiloAddress, SiloStatus> { [silo] = SiloStatus.Active };
        var partition = new PartitionDescription(
            0, 0, silo.ToParsableString(), 1, 0, 0,
            [
                new ReplicaDescription(0, "r0", silo.ToParsableString(), ReplicaRole.Leader, 0, 0, null),
                new ReplicaDescription(1, "r1", "", ReplicaRole.None, 0, 0, "Response did not arrive on time"),
            ],
            SharedSilos: false);

        Assert.Equal([new SiloOverview(silo.ToParsableString(), "127.0.0.1:11111", "Active", true, 1, 1)], ClusterOverview.Silos(hosts, silo, [partition]));
    }

    private static PartitionDescription Partition(int partition, params (SiloAddress Silo, ReplicaRole Role)[] replicas) =>
        new(
            partition,
            Array.FindIndex(replicas, r => r.Role == ReplicaRole.Leader),
            replicas.FirstOrDefault(r => r.Role == ReplicaRole.Leader).Silo?.ToParsableString(),
            Epoch: 1,
            FirstOffset: 0,
            CommittedNext: 0,
            [.. replicas.Select((r, i) => new ReplicaDescription(i, $"{partition}/{i}", r.Silo.ToParsableString(), r.Role, 0, 0, null))],
            SharedSilos: false);
}
