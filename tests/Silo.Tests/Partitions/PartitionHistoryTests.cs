using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>The history checker against hand-made histories: a sound one passes, each kind of anomaly is named.</summary>
public sealed class PartitionHistoryTests
{
    private const string R0 = "1/0/0";
    private const string R1 = "1/0/1";

    /// <summary>
    /// Partition 0: w0-0, w0-1 acknowledged in epoch 1 at offsets 0-1; w0-2 refused; w0-3 unknown and in the log at 2;
    /// w0-4 unknown and absent; w0-5 acknowledged in epoch 2 at 3. A read saw offsets 1-2.
    /// </summary>
    private static PartitionHistory SoundHistory()
    {
        var history = new PartitionHistory();
        history.RecordAppend(new AppendEvent(0, R0, ["p0-w0-0", "p0-w0-1"], AppendOutcome.Acknowledged, new AppendAck(1, 0, 2)));
        history.RecordAppend(new AppendEvent(0, R1, ["p0-w0-2"], AppendOutcome.Refused));
        history.RecordAppend(new AppendEvent(0, R0, ["p0-w0-3"], AppendOutcome.Unknown));
        history.RecordAppend(new AppendEvent(0, R0, ["p0-w0-4"], AppendOutcome.Unknown));
        history.RecordAppend(new AppendEvent(0, R1, ["p0-w0-5"], AppendOutcome.Acknowledged, new AppendAck(2, 3, 1)));
        history.RecordRead(new ReadEvent(0, R1, [new(1, 1, "p0-w0-1"), new(1, 2, "p0-w0-3")]));
        return history;
    }

    private static ObservedRecord[] SoundLog() =>
        [new(1, 0, "p0-w0-0"), new(1, 1, "p0-w0-1"), new(1, 2, "p0-w0-3"), new(2, 3, "p0-w0-5")];

    private static Dictionary<int, IReadOnlyDictionary<string, IReadOnlyList<ObservedRecord>>> Finals(ObservedRecord[] r0, ObservedRecord[] r1) =>
        new() { [0] = new Dictionary<string, IReadOnlyList<ObservedRecord>> { [R0] = r0, [R1] = r1 } };

    [Fact]
    public void A_sound_history_has_no_problems()
    {
        Assert.Empty(SoundHistory().Check(Finals(SoundLog(), SoundLog())));
    }

    [Fact]
    public void A_gap_in_the_offsets_is_reported()
    {
        ObservedRecord[] gapped = [new(1, 0, "p0-w0-0"), new(1, 1, "p0-w0-1"), new(2, 3, "p0-w0-5")];
        var problems = SoundHistory().Check(Finals(SoundLog(), gapped));
        Assert.Contains(problems, p => p.StartsWith("[gap]") && p.Contains("offset 3 follows offset 1") && p.Contains(R1));
    }

    [Fact]
    public void A_log_not_starting_at_offset_zero_is_reported()
    {
        var problems = SoundHistory().Check(Finals(SoundLog(), SoundLog()[1..]));
        Assert.Contains(problems, p => p.StartsWith("[gap]") && p.Contains("starts at offset 1"));
    }

    [Fact]
    public void An_acknowledged_append_appearing_twice_is_reported()
    {
        ObservedRecord[] duplicated = [.. SoundLog(), new(2, 4, "p0-w0-5")];
        var problems = SoundHistory().Check(Finals(duplicated, SoundLog()));
        Assert.Contains(problems, p => p.StartsWith("[duplicate]") && p.Contains("'p0-w0-5' appears twice, at offsets 3 and 4"));
    }

    [Fact]
    public void A_lost_acknowledged_record_is_reported()
    {
        // w0-1 (offset 1) is gone from replica 1 and the records behind it moved down: a gap would not show it.
        ObservedRecord[] lost = [new(1, 0, "p0-w0-0"), new(1, 1, "p0-w0-3"), new(2, 2, "p0-w0-5")];
        var problems = SoundHistory().Check(Finals(SoundLog(), lost));
        Assert.Contains(problems, p => p.StartsWith("[lost]") && p.Contains("'p0-w0-1' (epoch 1 offset 1) is not there, 'p0-w0-3' at offset 1 (epoch 1) is") && p.Contains(R1));
        Assert.Contains($"[behind] partition 0 replica {R1}: the final read ends at offset 3, before 1 acknowledged records", problems);
    }

    [Fact]
    public void A_replica_that_stops_short_of_acknowledged_records_is_reported_as_behind_once()
    {
        var problems = SoundHistory().Check(Finals(SoundLog(), SoundLog()[..1]));
        Assert.Contains($"[behind] partition 0 replica {R1}: the final read ends at offset 1, before 2 acknowledged records", problems);
        Assert.Contains($"[behind] partition 0 replica {R1}: reads showed 2 records beyond the end of its final read (offset 1)", problems);
        Assert.DoesNotContain(problems, p => p.StartsWith("[lost]") || p.StartsWith("[changed]") || p.StartsWith("[unreadable]"));
    }

    [Fact]
    public void Acknowledged_records_no_replica_holds_are_reported_as_unreadable()
    {
        var problems = SoundHistory().Check(Finals(SoundLog()[..3], SoundLog()[..1]));
        Assert.Contains("[unreadable] partition 0: 1 acknowledged records are in no replica's final read (offsets 3..3)", problems);
    }

    [Fact]
    public void An_acknowledged_record_at_another_epoch_is_reported()
    {
        var log = SoundLog();
        log[3] = new(3, 3, "p0-w0-5");
        var problems = SoundHistory().Check(Finals(log, log));
        Assert.Contains(problems, p => p.StartsWith("[lost]") && p.Contains("is not there, 'p0-w0-5' at offset 3 (epoch 3) is"));
    }

    [Fact]
    public void A_record_changed_since_a_read_saw_it_is_reported()
    {
        // The unknown append w0-4 took offset 2 in the end, but a read had shown w0-3 there.
        var history = SoundHistory();
        ObservedRecord[] changed = [new(1, 0, "p0-w0-0"), new(1, 1, "p0-w0-1"), new(2, 2, "p0-w0-4"), new(2, 3, "p0-w0-5")];
        var problems = history.Check(Finals(changed, changed));
        Assert.Contains(problems, p => p.StartsWith("[changed]") && p.Contains("showed 'p0-w0-3' at offset 2 (epoch 1)") && p.Contains("shows 'p0-w0-4' at offset 2 (epoch 2)"));
    }

    [Fact]
    public void Two_reads_disagreeing_about_an_offset_are_reported()
    {
        var history = SoundHistory();
        history.RecordRead(new ReadEvent(0, R0, [new(1, 2, "p0-w0-4")]));
        var problems = history.Check(Finals(SoundLog(), SoundLog()));
        Assert.Contains(problems, p => p.StartsWith("[changed]") && p.Contains($"a read from {R1} showed 'p0-w0-3' at offset 2 (epoch 1), a later read from {R0} shows 'p0-w0-4'"));
    }

    [Fact]
    public void A_record_never_produced_or_refused_is_reported()
    {
        ObservedRecord[] phantoms = [.. SoundLog(), new(2, 4, "p0-w9-0"), new(2, 5, "p0-w0-2")];
        var problems = SoundHistory().Check(Finals(phantoms, SoundLog()));
        Assert.Contains(problems, p => p.StartsWith("[phantom]") && p.Contains("'p0-w9-0' at offset 4 (epoch 2) was never produced"));
        Assert.Contains(problems, p => p.StartsWith("[phantom]") && p.Contains("'p0-w0-2' at offset 5 (epoch 2) belongs to a refused append"));
    }

    [Fact]
    public void Part_of_an_append_of_unknown_outcome_is_reported()
    {
        var history = new PartitionHistory();
        history.RecordAppend(new AppendEvent(0, R0, ["p0-w0-0", "p0-w0-1", "p0-w0-2"], AppendOutcome.Unknown));
        ObservedRecord[] partial = [new(1, 0, "p0-w0-0"), new(1, 1, "p0-w0-2")];
        var problems = history.Check(Finals(partial, partial));
        Assert.Contains(problems, p => p.StartsWith("[partial]") && p.Contains("2 of the 3 records"));
    }

    [Fact]
    public void Replicas_holding_different_records_at_one_offset_are_reported()
    {
        var other = SoundLog();
        other[2] = new(1, 2, "p0-w0-4");
        var problems = SoundHistory().Check(Finals(SoundLog(), other));
        Assert.Contains(problems, p => p.StartsWith("[diverged]") && p.Contains($"replica {R0} holds 'p0-w0-3' at offset 2 (epoch 1), replica {R1} holds 'p0-w0-4'"));
    }

    [Fact]
    public void Many_problems_of_one_kind_are_summarised()
    {
        var history = new PartitionHistory();
        var values = Enumerable.Range(0, 50).Select(i => $"p0-w0-{i}").ToArray();
        history.RecordAppend(new AppendEvent(0, R0, values, AppendOutcome.Acknowledged, new AppendAck(1, 0, 50)));
        ObservedRecord[] other = [.. values.Select((v, i) => new ObservedRecord(1, (ulong)i, v + "x"))];
        var problems = history.Check(Finals(other, other));
        Assert.Equal(10 + 10 + 1 + 2, problems.Count); // 100 replaced records and 100 phantoms (50 each per replica): 10 of each named, the rest counted; one unreadable line
        Assert.Equal(["[lost] ... and 90 more", "[phantom] ... and 90 more"], problems.TakeLast(2).Order());
    }
}
