using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;
using Pyralog.Grains.Tests.Partitions;
using Pyralog.Testing;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A replica that deactivates while its silo's store still holds one of its writes queued: its next activation reads its
/// log only once that write committed, since the write's acknowledgement reaches the leader all the same (from the
/// store's commit thread). Read earlier, the log looked shorter than what the leader counted, and the leader took the
/// replica's refusals of its appends for stale ones (a nemesis run's partition stood still for two minutes that way).
/// </summary>
[Collection(PartitionClusterCollection.Name)]
public class QueuedPersistTests(PartitionClusterFixture fixture)
{
    [Fact]
    public async Task A_follower_deactivated_with_a_write_queued_comes_back_holding_what_it_acknowledged()
    {
        var grains = fixture.Cluster.Client;
        var log = await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("queued-persist", 1, 3);
        var leader = await PartitionCalls.LeaderAsync(grains, log, 0);
        await leader.AppendAsync([PartitionCalls.Rec("first")]);
        var (follower, silo) = await FollowerAsync(grains, log);
        await PartitionCalls.ReadAllAsync(follower, 1);
        var services = ((InProcessSiloHandle)fixture.Cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == silo)).SiloHost.Services;
        var store = services.GetRequiredService<SiloStore>().Store;
        var gate = services.GetRequiredService<LocalReplicas>().DataGate;
        var key = follower.GetPrimaryKeyString();

        // The follower's silo store commits nothing while its commit thread is held: the follower's write of the next
        // entry queues there. The leader commits the entry with the third replica.
        Task<ReplicaStatus> next;
        long target;
        using (HeldCommitThread.Hold(store))
        {
            await leader.AppendAsync([PartitionCalls.Rec("second")]);
            target = (await leader.GetStatusAsync()).LastIndex;
            await WaitUntilAsync(async () => (await follower.GetStatusAsync()).LastIndex >= target, "the follower to take the entry");

            await follower.Cast<IGrainManagementExtension>().DeactivateOnIdle();
            next = follower.GetStatusAsync(); // answered by the follower's next activation

            // The deactivation waits for the write it left queued, and the silo's data gate holds up the next activation
            // until it lands; without them the next activation reads its log while the write is held, and answers.
            await WaitUntilAsync(() => Task.FromResult(next.IsCompleted || gate.HoldsUp(key)), "the silo to hold up the next activation, or that activation to answer");
            Assert.False(next.IsCompleted, "the follower's next activation answered while its predecessor's write was still queued");
        }

        var first = await next;
        Assert.True(first.LastIndex >= target, $"the follower's next activation read its log up to {first.LastIndex}, short of the {target} it acknowledged");
        await WaitUntilAsync(async () => (await follower.GetStatusAsync()).CommitIndex >= target, "the follower to learn the entry committed");
    }

    private static async Task<(IPartitionReplicaGrain Follower, string Silo)> FollowerAsync(IGrainFactory grains, LogInfo log)
    {
        for (var replica = 0; replica < 3; replica++)
        {
            var grain = grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, replica));
            var status = await grain.GetStatusAsync();
            if (status.Role == ReplicaRole.Follower)
            {
                return (grain, status.Silo);
            }
        }

        throw new InvalidOperationException($"log {log.Name} has no follower");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }

            await Task.Delay(20);
        }
    }
}
