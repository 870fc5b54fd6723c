using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// The metadata group's version gate: an entry a build cannot apply stops its replica (counted unapplied) rather than
/// being skipped; a command that some replica could not apply is refused before it is proposed; the version only
/// rises; moves' runs count from version 2 on and are ignored below it, as a build that drops the field would.
/// </summary>
public sealed class MetadataVersionTests
{
    private long _index;

    [Fact]
    public void An_entry_of_a_kind_this_build_does_not_know_throws_and_is_not_counted_applied()
    {
        var state = new MetadataState();
        Apply(state, MetadataCommand.Create("orders", 1, 3, new LogSettings()));

        var e = Assert.Throws<InvalidDataException>(() => Apply(state, new MetadataCommand { Kind = "split-partition", LogId = 1 }));
        Assert.Equal("metadata entry 2 is a 'split-partition' command, which this build does not know (a newer build's): " +
            "this replica applies nothing more until its silo runs a build that does", e.Message);
        Assert.Equal(1, state.AppliedIndex);

        var garbled = Assert.Throws<InvalidDataException>(() => state.Apply(new LogEntry(2, 1, EntryType.Normal, "{\"Kind\":"u8.ToArray())));
        Assert.StartsWith("8 bytes are not a metadata command: ", garbled.Message);
        Assert.Equal(1, state.AppliedIndex);
    }

    [Fact]
    public void An_older_build_stops_at_a_version_above_its_own_in_an_entry_or_a_snapshot()
    {
        var older = new MetadataState(MetadataState.SnapshotEveryEntries, latest: MetadataVersion.First);
        var e = Assert.Throws<InvalidDataException>(() => Apply(older, Raise(MetadataVersion.MoveRuns)));
        Assert.Equal("metadata entry 1 raises the metadata version to 2, above the 1 this build applies: " +
            "this replica applies nothing more until its silo runs a build that does", e.Message);
        Assert.Equal((0L, MetadataVersion.First), (older.AppliedIndex, older.Version));

        var newer = new MetadataState();
        var index = MetadataStateTests.Populate(newer, raised: true);
        var snapshot = new RaftSnapshot(index, 1, ClusterConfig.Empty, newer.EncodeSnapshot());
        var refused = Assert.Throws<InvalidDataException>(() => older.Restore(snapshot));
        Assert.Equal($"the metadata snapshot at index {index} is of metadata version 2, above the 1 this build applies: " +
            "this replica applies nothing more until its silo runs a build that does", refused.Message);
        Assert.Empty(older.Logs);
    }

    [Fact]
    public void Below_version_2_a_snapshot_keeps_the_format_an_older_build_reads()
    {
        var state = new MetadataState();
        _index = MetadataStateTests.Populate(state);
        Assert.Equal(2, state.EncodeSnapshot()[3]);

        Apply(state, Raise(MetadataVersion.MoveRuns));
        Assert.Equal(3, state.EncodeSnapshot()[3]);
    }

    [Fact]
    public void What_a_replica_could_not_apply_is_refused_before_it_is_proposed()
    {
        var state = new MetadataState();
        Assert.Equal("unknown metadata command kind 'split-partition'", state.Refusal(new MetadataCommand { Kind = "split-partition" }));
        Assert.Equal("cannot raise the metadata version to 3: this build applies versions 1 to 2", state.Refusal(Raise(3)));
        Assert.Equal("cannot raise the metadata version to 0: this build applies versions 1 to 2", state.Refusal(Raise(0)));
        Assert.Null(state.Refusal(Raise(MetadataVersion.MoveRuns)));
        Assert.Null(state.Refusal(MetadataCommand.Create("orders", 1, 3, new LogSettings())));
    }

    [Fact]
    public void The_version_only_rises()
    {
        var state = new MetadataState();
        Assert.Equal(MetadataVersion.First, state.Version);
        Assert.Equal(new MetadataResult(null, null), Apply(state, Raise(MetadataVersion.MoveRuns)));
        Assert.Equal(new MetadataResult(null, null), Apply(state, Raise(MetadataVersion.First)));
        Assert.Equal(MetadataVersion.MoveRuns, state.Version);
    }

    [Fact]
    public void At_version_2_a_move_belongs_to_its_latest_run_and_another_run_cannot_end_it()
    {
        var state = new MetadataState();
        Apply(state, Raise(MetadataVersion.MoveRuns));
        var log = Homed(state);

        Assert.Equal(new ReplicaMove(0, 1, 3, 10), Apply(state, Move("move", run: 10)).Log!.MoveIn(0));
        Assert.Equal(new ReplicaMove(0, 1, 3, 20), Apply(state, Move("move", run: 20)).Log!.MoveIn(0)); // resumed by another mover: it takes over

        // The first run's late end is refused, whichever way it ends; the slots stay as they were.
        var late = Apply(state, Move("abandon-move", run: 10));
        Assert.Equal($"the move of slot 1 to slot 3 of partition 0 of log {log} is run by another mover now", late.Error);
        Assert.Equal("d:1", late.Log!.Homes!.Home(0, 3));
        Assert.Equal($"the move of slot 1 to slot 3 of partition 0 of log {log} is run by another mover now", Apply(state, Move("moved", run: 10)).Error);

        var moved = Apply(state, Move("moved", run: 20));
        Assert.Null(moved.Error);
        Assert.Null(moved.Log!.MoveIn(0));
        Assert.Null(moved.Log.Homes!.Home(0, 1));
        Assert.Null(Apply(state, Move("moved", run: 10)).Error); // ended already: a retry of either run
    }

    [Fact]
    public void Below_version_2_runs_are_ignored_as_a_build_that_drops_the_field_would()
    {
        var state = new MetadataState();
        Homed(state);

        Assert.Equal(new ReplicaMove(0, 1, 3), Apply(state, Move("move", run: 10)).Log!.MoveIn(0));
        Assert.Equal(new ReplicaMove(0, 1, 3), Apply(state, Move("move", run: 20)).Log!.MoveIn(0));
        var abandoned = Apply(state, Move("abandon-move", run: 10));
        Assert.Null(abandoned.Error);
        Assert.Null(abandoned.Log!.MoveIn(0));
    }

    private static MetadataCommand Raise(int version) => new() { Kind = MetadataVersion.RaiseKind, Version = version };

    private static MetadataCommand Move(string kind, long run) =>
        new() { Kind = kind, LogId = 1, Partition = 0, From = 1, To = 3, Silo = kind == "move" ? "d:1" : null, Run = run };

    private string Homed(MetadataState state)
    {
        Apply(state, MetadataCommand.Create("orders", 1, 3, new LogSettings()));
        return Apply(state, new MetadataCommand { Kind = "homes", LogId = 1, Homes = [["a:1", "b:1", "c:1"]] }).Log!.Info.Name;
    }

    private MetadataResult Apply(MetadataState state, MetadataCommand command) =>
        (MetadataResult)state.Apply(new LogEntry(++_index, 1, EntryType.Normal, command.Encode()))!;
}
