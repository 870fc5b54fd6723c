using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Logs;

/// <summary>
/// A cached log's leader hints across refreshes when replica moves change a partition's slots: a hint whose slot is
/// gone falls back to the partition's first slot, one that is still there survives, a leader named in a slot the cache
/// does not know yet is followed (and says the log should be read again), and every holder of the log sees the same
/// hints (refreshes share them).
/// </summary>
public sealed class CachedLogTests
{
    private static LogInfo Info(params byte[] masks) =>
        new(7, "moving", masks.Length, 3, new LogSettings(), LogState.Active) { SlotMasks = masks };

    [Fact]
    public void Hints_start_at_each_partitions_first_slot_and_a_leader_in_a_slot_not_read_yet_is_followed()
    {
        var cached = new CachedLog(Info(0b0000_0111, 0b0000_1110), fetchedAt: 0);
        Assert.Equal(0, cached.Leader(0));
        Assert.Equal(1, cached.Leader(1));

        Assert.True(cached.FollowHint(1, ReplicaGrainKey.Of(7, 1, 3)));
        Assert.Equal(3, cached.Leader(1));
        cached.Skip(1, 3);
        Assert.Equal(1, cached.Leader(1)); // after slot 3 comes slot 1 again (slots 1, 2, 3)

        // A move added slot 4 and the old leader handed over to it: followed at once, and the log is to be read again.
        Assert.False(cached.FollowHint(1, ReplicaGrainKey.Of(7, 1, 4)));
        Assert.Equal(4, cached.Leader(1));
        Assert.True(cached.FollowHint(1, ReplicaGrainKey.Of(8, 1, 2))); // another log's key: ignored
        Assert.Equal(4, cached.Leader(1));
    }

    [Fact]
    public void A_refresh_after_a_move_resets_a_hint_to_a_gone_slot_and_every_holder_sees_it()
    {
        var before = new CachedLog(Info(0b0000_0111, 0b0000_0111), fetchedAt: 0);
        before.FollowHint(0, ReplicaGrainKey.Of(7, 0, 1));
        before.FollowHint(1, ReplicaGrainKey.Of(7, 1, 2));

        // Slot 1 of partition 0 moved to slot 3; partition 1 did not move.
        var after = before.Refreshed(Info(0b0000_1101, 0b0000_0111), fetchedAt: 1);
        Assert.Equal(0, after.Leader(0));
        Assert.Equal(2, after.Leader(1));
        Assert.Equal([0, 2, 3], after.Info.ReplicaSlots(0));

        after.FollowHint(0, ReplicaGrainKey.Of(7, 0, 3));
        Assert.Equal(3, before.Leader(0)); // one set of hints for the log
    }
}
