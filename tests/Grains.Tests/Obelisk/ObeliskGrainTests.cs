using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.Runtime.Placement;
using Orleans.Storage;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Grains.Obelisk;

namespace Pyralog.Grains.Tests.Obelisk;

/// <summary>Obelisk grains on a real two-silo Orleans cluster: moves, abrupt silo loss, fencing, bad input.</summary>
[Collection(ObeliskClusterCollection.Name)]
public sealed class ObeliskGrainTests(ObeliskClusterFixture fixture)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private TestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Ids_stay_unique_and_increasing_when_the_obelisk_moves_to_the_other_silo()
    {
        var grain = Cluster.Client.GetGrain<IObeliskGrain>(21);
        var ids = new List<ScarabId>();
        await Collect(grain, ids, 5);
        var before = await grain.GetStatusAsync();

        var target = await MoveToOtherSiloAsync(grain, before.Silo);
        await Collect(grain, ids, 5);
        var after = await grain.GetStatusAsync();

        Assert.Equal(target, after.Silo);
        Assert.Equal(before.Fence + 1, after.Fence);
        AssertStrictlyIncreasing(ids);
    }

    [Fact]
    public async Task Ids_stay_unique_and_increasing_after_the_hosting_silo_is_killed()
    {
        var grain = Cluster.Client.GetGrain<IObeliskGrain>(22);
        var ids = new List<ScarabId>();
        await Collect(grain, ids, 3);

        // The primary silo holds the test cluster's membership table; kill the other one, so move the obelisk there.
        var secondary = Cluster.SecondarySilos[0];
        var status = await grain.GetStatusAsync();
        if (status.Silo != secondary.SiloAddress.ToString())
        {
            await MoveToOtherSiloAsync(grain, status.Silo);
        }

        await Collect(grain, ids, 3);
        await Cluster.KillSiloAsync(secondary);
        try
        {
            await CollectAfterTheKillAsync(grain, ids);
        }
        finally
        {
            // Later tests need two silos again, whatever happened here.
            await Cluster.StartAdditionalSiloAsync();
        }
    }

    private async Task CollectAfterTheKillAsync(IObeliskGrain grain, List<ScarabId> ids)
    {

        // Calls fail until membership declares the silo dead and the obelisk reactivates on the primary.
        var deadline = DateTime.UtcNow + Deadline;
        while (true)
        {
            try
            {
                ids.Add(await grain.NextAsync());
                break;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }

        await Collect(grain, ids, 3);
        Assert.Equal(Cluster.Primary!.SiloAddress.ToString(), (await grain.GetStatusAsync()).Silo);
        AssertStrictlyIncreasing(ids);
    }

    [Fact]
    public async Task An_activation_whose_lease_was_taken_over_stops_and_the_next_one_starts_above_the_new_reservation()
    {
        var grain = Cluster.Client.GetGrain<IObeliskGrain>(23);
        var ids = new List<ScarabId>();
        await Collect(grain, ids, 2);

        // Act as a competing activation would: take the lease (fence + 1) under the current ETag, far ahead.
        var storage = ((InProcessSiloHandle)Cluster.Primary!).SiloHost!.Services.GetRequiredKeyedService<IGrainStorage>(PyralogStorageNames.Obelisk);
        var state = new GrainState<ObeliskLease>(new ObeliskLease());
        var grainId = grain.GetGrainId();
        await storage.ReadStateAsync("lease", grainId, state);
        state.State ??= new ObeliskLease();
        var reservedUntil = ids[^1].Milliseconds + 60_000;
        state.State.Fence++;
        state.State.Holder = "test";
        state.State.LeaseExpiresUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + 500;
        state.State.ReservedUntilMs = reservedUntil;
        await storage.WriteStateAsync("lease", grainId, state);
        var takenFence = state.State.Fence;

        // The old activation keeps its lease until it must renew; then its conditional write fails and it stops.
        var lost = await WaitForAsync<InvalidOperationException>(async () =>
        {
            try
            {
                ids.Add(await grain.NextAsync());
                await Task.Delay(100);
                return null;
            }
            catch (InvalidOperationException e)
            {
                return e;
            }
        });
        Assert.Contains("lost its lease", lost.Message);

        // The next activation waits out the competitor's lease and starts at or above its reservation.
        var next = await grain.NextAsync();
        Assert.True(next.Milliseconds >= reservedUntil, $"{next.ToReadableString()} is below the competitor's reservation");
        Assert.Equal(takenFence + 1, (await grain.GetStatusAsync()).Fence);
        ids.Add(next);
        AssertStrictlyIncreasing(ids);
    }

    [Fact]
    public async Task Releasing_a_lease_never_lowers_the_reservation_below_what_earlier_holders_had()
    {
        var grain = Cluster.Client.GetGrain<IObeliskGrain>(25);
        var storage = ((InProcessSiloHandle)Cluster.Primary!).SiloHost!.Services.GetRequiredKeyedService<IGrainStorage>(PyralogStorageNames.Obelisk);
        var grainId = grain.GetGrainId();
        var state = new GrainState<ObeliskLease>(new ObeliskLease());
        await storage.ReadStateAsync("lease", grainId, state);
        state.State ??= new ObeliskLease();
        var earlier = (ulong)(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - ScarabId.EpochUnixMilliseconds) + 3_600_000;
        state.State.ReservedUntilMs = earlier; // an earlier holder on another silo, released, ran an hour ahead
        await storage.WriteStateAsync("lease", grainId, state);

        // Activate and deactivate without issuing anything.
        Assert.Equal(1UL, (await grain.GetStatusAsync()).Fence);
        await grain.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        await WaitForAsync<string>(async () =>
        {
            await storage.ReadStateAsync("lease", grainId, state);
            return state.State!.LeaseExpiresUnixMs == 0 ? "released" : null;
        });
        Assert.True(state.State!.ReservedUntilMs >= earlier, $"released reservation {state.State.ReservedUntilMs} fell below {earlier}");
        Assert.True((await grain.NextAsync()).Milliseconds >= earlier);
    }

    [Fact]
    public async Task Many_concurrent_callers_get_unique_ids()
    {
        var grains = Enumerable.Range(100, 4).Select(i => Cluster.Client.GetGrain<IObeliskGrain>(i)).ToArray();
        var calls = Enumerable.Range(0, 200).Select(i => grains[i % grains.Length].NextBlockAsync(1 + i % 50)).ToArray();
        var blocks = await Task.WhenAll(calls);
        var all = blocks.SelectMany(b => Enumerable.Range(0, b.Count).Select(i => b[i])).ToArray();
        Assert.Equal(blocks.Sum(b => b.Count), all.Distinct().Count());
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(-1)]
    public async Task An_obelisk_id_outside_0_to_1023_is_refused(long id)
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => Cluster.Client.GetGrain<IObeliskGrain>(id).NextAsync());
        Assert.Contains("0..1023", e.ToString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(65_537)]
    public async Task A_block_count_outside_1_to_65536_is_refused(int count)
    {
        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Cluster.Client.GetGrain<IObeliskGrain>(24).NextBlockAsync(count));
        Assert.Contains("1..65536", e.Message);
    }

    private async Task<string> MoveToOtherSiloAsync(IObeliskGrain grain, string from)
    {
        var target = Cluster.GetActiveSilos().Select(s => s.SiloAddress).First(a => a.ToString() != from);
        RequestContext.Set(IPlacementDirector.PlacementHintKey, target);
        try
        {
            await grain.Cast<IGrainManagementExtension>().MigrateOnIdle();
        }
        finally
        {
            RequestContext.Clear();
        }

        await WaitForAsync<string>(async () => (await grain.GetStatusAsync()).Silo == target.ToString() ? "moved" : null);
        return target.ToString();
    }

    private static async Task Collect(IObeliskGrain grain, List<ScarabId> ids, int calls)
    {
        for (var i = 0; i < calls; i++)
        {
            ids.Add(await grain.NextAsync());
            var block = await grain.NextBlockAsync(1000);
            for (var j = 0; j < block.Count; j++)
            {
                ids.Add(block[j]);
            }
        }
    }

    private static void AssertStrictlyIncreasing(List<ScarabId> ids)
    {
        for (var i = 1; i < ids.Count; i++)
        {
            Assert.True(ids[i] > ids[i - 1], $"ID #{i} {ids[i].ToReadableString()} is not above {ids[i - 1].ToReadableString()}");
        }
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } result)
            {
                return result;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the condition did not hold within the deadline");
    }
}
