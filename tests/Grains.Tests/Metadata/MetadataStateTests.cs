using System.Buffers.Binary;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// The metadata state's snapshot: it asks for one every <c>snapshotEvery</c> applied entries, the data restores exactly
/// the same logs and next id (the state then applies what follows like any replica), and damaged data is refused with
/// a message naming what is wrong, leaving the state as it was.
/// </summary>
public sealed class MetadataStateTests
{
    private const long Populated = 15;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_snapshot_restores_the_same_logs_and_next_id_and_the_state_then_applies_what_follows(bool raised)
    {
        var state = new MetadataState();
        var index = Populate(state, raised: raised);
        var snapshot = new RaftSnapshot(index, 3, ClusterConfig.Empty, state.EncodeSnapshot());

        var restored = new MetadataState();
        restored.Restore(snapshot);
        Assert.Equal(index, restored.AppliedIndex);
        Assert.Equal(state.NextLogId, restored.NextLogId);
        Assert.Equal(raised ? MetadataVersion.MoveRuns : MetadataVersion.First, restored.Version);
        AssertSameLogs(state.Logs, restored.Logs);

        // Both go on alike: the next create gets the same id on each.
        var next = MetadataCommand.Create("after", 2, 3, new LogSettings()).Encode();
        var original = (MetadataResult)state.Apply(new LogEntry(index + 1, 3, EntryType.Normal, next))!;
        var copy = (MetadataResult)restored.Apply(new LogEntry(index + 1, 3, EntryType.Normal, next))!;
        Assert.Equal(original.Log!.Info, copy.Log!.Info);
        Assert.Equal(7ul, copy.Log.Info.Id);
        AssertSameLogs(state.Logs, restored.Logs);
        Assert.Equal(state.EncodeSnapshot(), restored.EncodeSnapshot());
    }

    [Fact]
    public void A_delete_that_names_the_log_id_succeeds_again_and_never_removes_a_log_created_since_under_the_name()
    {
        var state = new MetadataState();
        var index = 0L;
        MetadataResult Apply(MetadataCommand command) => (MetadataResult)state.Apply(new LogEntry(++index, 1, EntryType.Normal, command.Encode()))!;

        var first = Apply(MetadataCommand.Create("orders", 1, 3, new LogSettings())).Log!.Info;
        var deleted = Apply(new MetadataCommand { Kind = "delete", Name = "orders", LogId = first.Id });
        Assert.Equal((first, (string?)null), (deleted.Log!.Info, deleted.Error));
        Assert.Equal(new MetadataResult(null, null), Apply(new MetadataCommand { Kind = "delete", Name = "orders", LogId = first.Id })); // a retry

        var second = Apply(MetadataCommand.Create("orders", 2, 3, new LogSettings())).Log!.Info;
        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(new MetadataResult(null, null), Apply(new MetadataCommand { Kind = "delete", Name = "orders", LogId = first.Id })); // a late retry
        Assert.Equal(second, state.Logs.Single(l => l.Info.Name == "orders").Info);

        // A delete by name alone (entries written before deletes named the id) removes whatever has the name.
        Assert.Equal(second, Apply(new MetadataCommand { Kind = "delete", Name = "orders" }).Log!.Info);
        Assert.Equal("no log is named 'orders'", Apply(new MetadataCommand { Kind = "delete", Name = "orders" }).Error);
    }

    [Fact]
    public void Homes_over_more_than_255_silos_are_refused_as_a_result_not_thrown_by_every_replica()
    {
        var state = new MetadataState();
        var index = 0L;
        MetadataResult Apply(MetadataCommand command) => (MetadataResult)state.Apply(new LogEntry(++index, 1, EntryType.Normal, command.Encode()))!;
        string[][] Homes(int distinct) => [.. Enumerable.Range(0, 52).Select(p => Enumerable.Range(0, 5).Select(s => $"s{Math.Min(p * 5 + s, distinct - 1)}:1").ToArray())];

        var log = Apply(MetadataCommand.Create("wide", 52, 5, new LogSettings())).Log!.Info;
        Assert.Equal($"homes for log {log.Id}: a log's replicas live on at most 255 silos: s255:1 would be one more (Parameter 'endpoint')",
            Apply(new MetadataCommand { Kind = "homes", LogId = log.Id, Homes = Homes(256) }).Error);
        Assert.Null(state.Logs.Single().Homes);

        Assert.Null(Apply(new MetadataCommand { Kind = "homes", LogId = log.Id, Homes = Homes(255) }).Error);
        Assert.Equal(255, state.Logs.Single().Homes!.Silos.Length);
        Assert.StartsWith("partition 1 of log wide cannot move slot 0 to new:1: a log's replicas live on at most 255 silos",
            Apply(new MetadataCommand { Kind = "move", LogId = log.Id, Partition = 1, From = 0, To = 5, Silo = "new:1" }).Error);

        // A rehome frees the silo it leaves: s0:1 held one replica only.
        var rehomed = Apply(new MetadataCommand { Kind = "rehome", LogId = log.Id, Partition = 0, From = 0, Silo = "new:1", PreviousSilo = "s0:1" });
        Assert.Null(rehomed.Error);
        Assert.Equal("new:1", rehomed.Log!.Homes!.Home(0, 0));
        Assert.Equal(255, rehomed.Log.Homes.Silos.Length);
        Assert.Equal("s254:1", rehomed.Log.Homes.Home(51, 4));
    }

    [Fact]
    public void A_move_adds_the_target_slot_then_drops_the_moved_one_and_refuses_what_would_break_the_homes()
    {
        var state = new MetadataState();
        var index = 0L;
        MetadataResult Apply(MetadataCommand command) => (MetadataResult)state.Apply(new LogEntry(++index, 1, EntryType.Normal, command.Encode()))!;
        MetadataCommand Move(string kind, int from, int to, string? silo = null, int partition = 0) =>
            new() { Kind = kind, LogId = 1, Partition = partition, From = from, To = to, Silo = silo };

        Apply(MetadataCommand.Create("orders", 2, 3, new LogSettings()));
        Assert.Equal("log orders has no partition 0 with recorded homes to move a replica of", Apply(Move("move", 0, 3, "d:1")).Error);
        Assert.Equal("homes for log 1 must name 3 silos for each of its 2 partitions",
            Apply(new MetadataCommand { Kind = "homes", LogId = 1, Homes = [["a:1", "b:1", "c:1"]] }).Error);
        Apply(new MetadataCommand { Kind = "homes", LogId = 1, Homes = [["a:1", "b:1", "c:1"], ["b:1", "c:1", "a:1"]] });

        var started = Apply(Move("move", 1, 3, "d:1"));
        Assert.Null(started.Error);
        Assert.Equal([0, 1, 2, 3], started.Log!.Info.ReplicaSlots(0));
        Assert.Equal([0, 1, 2], started.Log.Info.ReplicaSlots(1));
        Assert.Equal("d:1", started.Log.Homes!.Home(0, 3));
        Assert.Equal(new ReplicaMove(0, 1, 3), started.Log.MoveIn(0));
        Assert.Null(Apply(Move("move", 1, 3, "d:1")).Error); // the same move again: a retry
        Assert.Equal("partition 0 of log orders is already moving slot 1 to slot 3", Apply(Move("move", 2, 4, "e:1")).Error);
        Assert.Equal("partition 1 of log orders already has a replica on c:1", Apply(Move("move", 0, 3, "c:1", partition: 1)).Error);
        Assert.Equal("partition 1 of log orders cannot move slot 3 to slot 4: slots 0,1,2 hold replicas", Apply(Move("move", 3, 4, "d:1", partition: 1)).Error);
        Assert.Equal("partition 0 of log orders is not moving slot 2 to slot 3", Apply(Move("moved", 2, 3)).Error);

        var moved = Apply(Move("moved", 1, 3));
        Assert.Null(moved.Error);
        Assert.Equal([0, 2, 3], moved.Log!.Info.ReplicaSlots(0));
        Assert.Null(moved.Log.Homes!.Home(0, 1));
        Assert.Null(moved.Log.MoveIn(0));
        Assert.Null(Apply(Move("moved", 1, 3)).Error); // ended already: a retry
        Assert.Equal(["a:1", "b:1", "c:1", "d:1"], moved.Log.Homes.Silos.Order(StringComparer.Ordinal));

        // The freed slot takes a replica again; an abandoned move drops the slot it added.
        Assert.Equal([0, 1, 2, 3], Apply(Move("move", 0, 1, "e:1")).Log!.Info.ReplicaSlots(0));
        var abandoned = Apply(Move("abandon-move", 0, 1));
        Assert.Null(abandoned.Error);
        Assert.Equal([0, 2, 3], abandoned.Log!.Info.ReplicaSlots(0));
        Assert.Equal("a:1", abandoned.Log.Homes!.Home(0, 0));
        Assert.DoesNotContain("e:1", abandoned.Log.Homes.Silos);
        Assert.Null(abandoned.Log.Moves);
        Assert.Equal(index, state.AppliedIndex);
        Assert.Equal(index, abandoned.Log.Homes.Version);
    }

    [Fact]
    public void A_rehome_records_where_a_replica_runs_only_if_its_home_is_still_the_one_it_replaces()
    {
        var state = new MetadataState();
        var index = 0L;
        MetadataResult Apply(MetadataCommand command) => (MetadataResult)state.Apply(new LogEntry(++index, 1, EntryType.Normal, command.Encode()))!;
        MetadataCommand Rehome(int slot, string previous, string silo) =>
            new() { Kind = "rehome", LogId = 1, Partition = 0, From = slot, Silo = silo, PreviousSilo = previous };

        Apply(MetadataCommand.Create("orders", 1, 3, new LogSettings()));
        Apply(new MetadataCommand { Kind = "homes", LogId = 1, Homes = [["a:1", "b:1", "c:1"]] });
        Assert.Equal("replica 0/1 of log orders cannot be rehomed from x:1 to d:1: its home is b:1", Apply(Rehome(1, "x:1", "d:1")).Error);
        Assert.Equal("replica 0/1 of log orders cannot be rehomed from b:1 to c:1: its home is b:1, c:1 holds another replica of the partition",
            Apply(Rehome(1, "b:1", "c:1")).Error);
        Assert.Equal("log orders has no replica 0/5 with a recorded home", Apply(Rehome(5, "b:1", "d:1")).Error);

        var rehomed = Apply(Rehome(1, "b:1", "d:1"));
        Assert.Null(rehomed.Error);
        Assert.Equal("d:1", rehomed.Log!.Homes!.Home(0, 1));
        Assert.DoesNotContain("b:1", rehomed.Log.Homes.Silos);
        Assert.Equal([0, 1, 2], rehomed.Log.Info.ReplicaSlots(0));
        Assert.Null(Apply(Rehome(1, "b:1", "d:1")).Error); // recorded already: a retry
    }

    [Fact]
    public void An_empty_state_round_trips()
    {
        var restored = new MetadataState();
        restored.Restore(new RaftSnapshot(5, 1, ClusterConfig.Empty, new MetadataState().EncodeSnapshot()));
        Assert.Empty(restored.Logs);
        Assert.Equal(1ul, restored.NextLogId);
        Assert.Equal(5, restored.AppliedIndex);
    }

    [Fact]
    public void A_compaction_is_asked_for_every_snapshotEvery_applied_entries_at_the_applied_index()
    {
        var state = new MetadataState(snapshotEvery: 4);
        var current = RaftSnapshot.Empty;
        for (var i = 1; i <= 3; i++)
        {
            state.Apply(new LogEntry(i, 1, EntryType.Normal, MetadataCommand.Create($"l{i}", 1, 1, new LogSettings()).Encode()));
            Assert.Null(state.TakeCompaction(current));
        }

        state.Apply(new LogEntry(4, 1, EntryType.Normal, ReadOnlyMemory<byte>.Empty)); // a no-op counts as an entry too
        var compaction = state.TakeCompaction(current);
        Assert.NotNull(compaction);
        var (at, data) = compaction.Value;
        Assert.Equal(4, at);
        Assert.Equal(state.EncodeSnapshot(), data);

        current = new RaftSnapshot(at, 1, ClusterConfig.Empty, data);
        Assert.Null(state.TakeCompaction(current));
        for (var i = 5; i <= 7; i++)
        {
            state.Apply(new LogEntry(i, 1, EntryType.Normal, new MetadataCommand { Kind = "delete", Name = $"l{i - 4}" }.Encode()));
            Assert.Null(state.TakeCompaction(current));
        }

        state.Apply(new LogEntry(8, 1, EntryType.Normal, new MetadataCommand { Kind = "delete", Name = "absent" }.Encode()));
        Assert.Equal(8, state.TakeCompaction(current)!.Value.Index);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // at metadata version 2: the snapshot format with the version and moves' runs
    public void Every_damaged_byte_and_every_short_prefix_is_refused_and_leaves_the_state_as_it_was(bool raised)
    {
        var source = new MetadataState();
        var index = Populate(source, raised: raised);
        var data = source.EncodeSnapshot();
        var target = new MetadataState();
        Populate(target, prefix: "kept-");
        var before = target.EncodeSnapshot();

        for (var i = 0; i < data.Length; i++)
        {
            var damaged = (byte[])data.Clone();
            damaged[i] ^= 0x10;
            var e = Assert.Throws<InvalidDataException>(() => target.Restore(new RaftSnapshot(index, 1, ClusterConfig.Empty, damaged)));
            Assert.StartsWith($"a metadata snapshot of {data.Length} bytes is damaged: ", e.Message);
        }

        for (var length = 0; length < data.Length; length++)
        {
            var e = Assert.Throws<InvalidDataException>(() => target.Restore(new RaftSnapshot(index, 1, ClusterConfig.Empty, data.AsMemory(0, length))));
            Assert.StartsWith($"a metadata snapshot of {length} bytes is damaged: ", e.Message);
        }

        Assert.Equal(before, target.EncodeSnapshot());
        Assert.Equal(Populated, target.AppliedIndex);
    }

    [Theory]
    [InlineData("checksum", "its checksum does not match its content")]
    [InlineData("version", "it is of version 4, not 1 to 3 (a version above 3 is a newer build's: upgrade this silo)")]
    [InlineData("magic", "it does not start with the metadata snapshot magic \"PMD\"")]
    [InlineData("short", "it is shorter than the 20 bytes of an empty state")]
    [InlineData("trailing", "2 bytes follow its last log")]
    [InlineData("truncated-log", "it ends inside the name of log 1 (at byte 26)")]
    public void Damage_is_named(string damage, string why)
    {
        var state = new MetadataState();
        Populate(state);
        var data = state.EncodeSnapshot();
        switch (damage)
        {
            case "checksum":
                data[^1] ^= 1;
                break;
            case "version":
                data[3] = 4;
                break;
            case "magic":
                data[0] = (byte)'X';
                break;
            case "short":
                data = data[..19];
                break;
            case "trailing":
                data = Resealed([.. data[..^4], 0, 0]);
                break;
            case "truncated-log":
                data = Resealed(data[..27]); // the header, log 1's id and name length, one byte of its name
                break;
        }

        var e = Assert.Throws<InvalidDataException>(() => new MetadataState().Restore(new RaftSnapshot(9, 1, ClusterConfig.Empty, data)));
        Assert.Equal($"a metadata snapshot of {data.Length} bytes is damaged: {why}", e.Message);
    }

    /// <summary>
    /// Six logs (ids 1-6) with every kind of command applied, one deleted, the moves of run 7 (raised: at metadata
    /// version 2 first, where runs count); returns the last index applied.
    /// </summary>
    internal static long Populate(MetadataState state, string prefix = "", bool raised = false)
    {
        var commands = new[]
        {
            new MetadataCommand { Kind = MetadataVersion.RaiseKind, Version = raised ? MetadataVersion.MoveRuns : MetadataVersion.First },
            MetadataCommand.Create($"{prefix}orders", 3, 3, new LogSettings()),
            MetadataCommand.Create($"{prefix}clicks", 8, 1, new LogSettings { Durability = LogDurability.OsCache, MaxRecordBytes = 4096 }),
            MetadataCommand.Create($"{prefix}audit", 1, 2, new LogSettings { RetentionAge = TimeSpan.FromDays(7), RetentionBytes = 10L << 30 }),
            MetadataCommand.Create($"{prefix}gone", 1, 1, new LogSettings()),
            MetadataCommand.Create($"{prefix}ünïcode.name", 2, 2, new LogSettings()),
            MetadataCommand.Create($"{prefix}last", 1, 1, new LogSettings()),
            new MetadataCommand { Kind = "incarnations", LogId = 1, Incarnations = [[11, 12, 13], [21, 22, 23], [31, 32, 33]] },
            new MetadataCommand { Kind = "homes", LogId = 1, Homes = [["a:1", "b:1", "c:1"], ["b:1", "c:1", "a:1"], ["c:1", "a:1", "b:1"]] },
            new MetadataCommand { Kind = "homes", LogId = 3, Homes = [["a:1", "a:1"]] },
            new MetadataCommand { Kind = "activate", LogId = 1 },
            new MetadataCommand { Kind = "move", LogId = 1, Partition = 0, From = 1, To = 3, Silo = "d:1", Run = 7 },
            new MetadataCommand { Kind = "moved", LogId = 1, Partition = 0, From = 1, To = 3, Run = 7 },
            new MetadataCommand { Kind = "move", LogId = 1, Partition = 2, From = 0, To = 3, Silo = "d:1", Run = 7 },
            new MetadataCommand { Kind = "delete", Name = $"{prefix}gone" },
        };

        for (var i = 0; i < commands.Length; i++)
        {
            state.Apply(new LogEntry(i + 1, 1, EntryType.Normal, commands[i].Encode()));
        }

        return commands.Length;
    }

    private static byte[] Resealed(byte[] withoutChecksum)
    {
        var data = new byte[withoutChecksum.Length + 4];
        withoutChecksum.CopyTo(data, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(withoutChecksum.Length), Crc32C.Compute(withoutChecksum));
        return data;
    }

    internal static void AssertSameLogs(IEnumerable<MetadataLog> expected, IEnumerable<MetadataLog> actual)
    {
        var e = expected.OrderBy(l => l.Info.Id).ToArray();
        var a = actual.OrderBy(l => l.Info.Id).ToArray();
        Assert.Equal(e.Select(l => l.Info with { SlotMasks = null }), a.Select(l => l.Info with { SlotMasks = null }));
        Assert.Equal(e.Select(l => Convert.ToHexString(l.Info.SlotMasks ?? [])), a.Select(l => Convert.ToHexString(l.Info.SlotMasks ?? [])));
        Assert.Equal(e.Select(Describe), a.Select(Describe));
        Assert.Equal(e.Select(l => l.Incarnations is null ? "none" : string.Join("|", l.Incarnations.Select(p => string.Join(",", p)))),
            a.Select(l => l.Incarnations is null ? "none" : string.Join("|", l.Incarnations.Select(p => string.Join(",", p)))));
    }

    private static string Describe(MetadataLog log) =>
        (log.Homes is { } h ? $"{string.Join(",", h.Silos)}:{Convert.ToHexString(h.Homes)}@{h.Version}" : "no homes") +
        $" moves {string.Join(";", (log.Moves ?? []).Select(m => $"{m.Partition}:{m.From}>{m.To}@{m.Run}"))}";
}
