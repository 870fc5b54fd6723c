using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Grains.Obelisk;
using Pyralog.Storage.Native.Obelisk;

namespace Pyralog.Grains.Tests.Obelisk;

public sealed class ObeliskNodeTests : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly ulong StartMs = (ulong)(Start.ToUnixTimeMilliseconds() - ScarabId.EpochUnixMilliseconds);

    private readonly string _directory = Directory.CreateTempSubdirectory("pyralog-node-").FullName;
    private readonly List<ObeliskSequencer> _sequencers = [];

    public void Dispose()
    {
        foreach (var s in _sequencers)
        {
            s.Dispose();
        }

        Directory.Delete(_directory, recursive: true);
    }

    private ObeliskSequencer Sequencer(string name = "n.obelisk", ulong blockMs = 250)
    {
        var s = ObeliskSequencer.Open(Path.Combine(_directory, name), ObeliskNode.SequencerUnitShift, blockMs << ObeliskNode.SequencerUnitShift);
        _sequencers.Add(s);
        return s;
    }

    [Fact]
    public void A_used_up_millisecond_rolls_to_sequence_zero_of_the_next()
    {
        var time = new FakeTimeProvider(Start);
        var node = new ObeliskNode(7, Sequencer(), time, TimeSpan.FromSeconds(1));
        var previous = node.Next();
        Assert.Equal(StartMs, previous.Milliseconds);
        Assert.Equal(0, previous.Sequence);
        Assert.Equal(7, previous.ObeliskId);
        for (var i = 1; i < ScarabId.SequencesPerMillisecond; i++)
        {
            var id = node.Next();
            Assert.Equal(previous.NextInObelisk(), id);
            previous = id;
        }

        Assert.Equal(ScarabId.MaxSequence, previous.Sequence);
        var rolled = node.Next();
        Assert.Equal(StartMs + 1, rolled.Milliseconds);
        Assert.Equal(0, rolled.Sequence);
    }

    [Fact]
    public async Task An_obelisk_ahead_of_its_clock_waits_for_the_next_millisecond()
    {
        var time = new FakeTimeProvider(Start);
        var node = new ObeliskNode(1, Sequencer(), time, maxClockLead: TimeSpan.Zero);
        var whole = await node.NextBlockAsync(ScarabId.SequencesPerMillisecond);
        Assert.Equal(StartMs, whole.Last.Milliseconds);

        var waiting = node.NextBlockAsync(1).AsTask();
        Assert.False(waiting.IsCompleted, "the next ID belongs to a millisecond the clock has not reached");
        time.Advance(TimeSpan.FromMilliseconds(1));
        var next = await waiting;
        Assert.Equal(ScarabId.Create(StartMs + 1, 1, 0), next.First);
    }

    [Fact]
    public void A_clock_that_goes_backwards_never_yields_a_lower_id_nor_stalls()
    {
        var time = new ManualClock(Start);
        var node = new ObeliskNode(3, Sequencer(), time, maxClockLead: TimeSpan.Zero);
        var before = node.NextBlock(100).Last;

        time.SetWall(Start.AddHours(-1));
        time.Advance(TimeSpan.FromMilliseconds(2));
        var after = node.NextBlock(100);
        Assert.True(after.First > before);
        Assert.Equal(StartMs + 2, after.First.Milliseconds);
        Assert.Equal(StartMs + 2, node.NowMilliseconds);

        // A wall clock that jumps forward again is followed (it is read once per monotonic millisecond).
        time.SetWall(Start.AddMinutes(1));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(StartMs + 60_001, node.Next().Milliseconds);
    }

    [Fact]
    public async Task A_wall_clock_stepped_forward_and_back_does_not_stall_the_obelisk()
    {
        var time = new ManualClock(Start);
        var node = new ObeliskNode(5, Sequencer(), time, maxClockLead: TimeSpan.Zero);
        time.SetWall(Start.AddHours(1)); // wrongly set an hour ahead...
        time.Advance(TimeSpan.FromMilliseconds(1));
        var ahead = node.Next();
        Assert.Equal(StartMs + 3_600_001, ahead.Milliseconds);

        time.SetWall(Start.AddMilliseconds(2)); // ...then corrected
        time.Advance(TimeSpan.FromMilliseconds(1));
        var next = await Task.Run(() => node.NextBlock(10)).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(next.First > ahead);
        Assert.Equal(StartMs + 3_600_002, next.First.Milliseconds);
    }

    [Fact]
    public void A_wall_clock_reading_past_the_formats_end_is_not_followed_and_moves_nothing()
    {
        var time = new ManualClock(Start);
        var sequencer = Sequencer();
        var log = new RecordingLogger();
        var node = new ObeliskNode(6, sequencer, time, maxClockLead: TimeSpan.Zero, logger: log);
        Assert.Equal(ScarabId.Create(StartMs, 6, 0), node.Next());
        var durable = sequencer.DurableHighWater;

        // A typo in `date -s`: a year past the last time a Scarab ID holds. The obelisk carries on at the monotonic rate.
        var wrong = ScarabId.MaxTimestamp.AddYears(1);
        time.SetWall(wrong);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(ScarabId.Create(StartMs + 1, 6, 0), node.NextBlock(10).First);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(ScarabId.Create(StartMs + 2, 6, 0), node.Next());
        Assert.Equal(StartMs + 2, node.NowMilliseconds);
        Assert.Equal(((StartMs + 2) << ObeliskNode.SequencerUnitShift) + 1, sequencer.Peek);
        Assert.Equal(durable, sequencer.DurableHighWater);
        var warning = Assert.Single(log.Lines);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Equal(
            $"Obelisk 6 ignores the wall clock reading {wrong.AddMilliseconds(1):O}: it is past {ScarabId.MaxTimestamp:O}, the last time a Scarab ID holds. "
            + "It keeps issuing from its monotonic clock; correct the system clock",
            warning.Message);

        // Corrected: followed again.
        time.SetWall(Start.AddMilliseconds(10));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(ScarabId.Create(StartMs + 11, 6, 0), node.Next());
        Assert.Single(log.Lines);
    }

    /// <summary>
    /// A node started while the wall clock reads past the format's end has no time reference: its counter file and floor
    /// may be below what a previous holder issued elsewhere (a lost lease record), so it issues nothing, and moves
    /// nothing, until the wall clock reads sanely; then it starts from it.
    /// </summary>
    [Fact]
    public void A_node_started_while_the_wall_clock_reads_past_the_formats_end_issues_nothing_until_it_reads_sanely()
    {
        var time = new ManualClock(ScarabId.MaxTimestamp.AddDays(1));
        var log = new RecordingLogger();
        var sequencer = Sequencer();
        var node = new ObeliskNode(8, sequencer, time, maxClockLead: TimeSpan.Zero, floorMilliseconds: StartMs, logger: log);
        var e = Assert.Throws<InvalidOperationException>(() => node.Next());
        Assert.StartsWith($"Obelisk 8 issues no IDs until the wall clock reads a time before {ScarabId.MaxTimestamp:O}", e.Message, StringComparison.Ordinal);
        Assert.Equal(0ul, sequencer.Peek);
        Assert.StartsWith("Obelisk 8 ignores the wall clock reading ", Assert.Single(log.Lines).Message, StringComparison.Ordinal);

        time.SetWall(Start.AddSeconds(10));
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(ScarabId.Create(StartMs + 10_001, 8, 0), node.Next()); // from the wall clock, not from the floor
    }

    [Fact]
    public void An_obelisk_at_the_formats_end_fails_naming_itself_and_records_nothing_past_it()
    {
        var sequencer = Sequencer("end.obelisk");
        var node = new ObeliskNode(9, sequencer, new FakeTimeProvider(Start), TimeSpan.FromSeconds(1), floorMilliseconds: ScarabId.MaxMilliseconds);
        var last = node.NextBlock(ScarabId.SequencesPerMillisecond);
        Assert.Equal(ScarabId.Create(ScarabId.MaxMilliseconds, 9, 0), last.First);
        Assert.Equal(ScarabId.Create(ScarabId.MaxMilliseconds, 9, ScarabId.MaxSequence), last.Last);
        var end = (ScarabId.MaxMilliseconds + 1) << ObeliskNode.SequencerUnitShift;
        Assert.Equal(end, sequencer.DurableHighWater); // the reservation ahead stops at the format's end

        var e = Assert.Throws<OverflowException>(() => node.Next());
        Assert.StartsWith(
            $"Obelisk 9 has exhausted the Scarab ID time range: 1 more ID(s) would be stamped past {ScarabId.MaxTimestamp:O}, ",
            e.Message,
            StringComparison.Ordinal);
        Assert.Equal(end, sequencer.Peek);
        Assert.Equal(end, sequencer.DurableHighWater);
        Assert.Equal(ScarabId.SequencesPerMillisecond, node.Issued);

        // A floor recorded past the end (by an older version) is refused the same way, and moves nothing either.
        var beyond = new ObeliskNode(10, Sequencer("beyond.obelisk"), new FakeTimeProvider(Start), TimeSpan.Zero, floorMilliseconds: ulong.MaxValue);
        Assert.StartsWith("Obelisk 10 has exhausted the Scarab ID time range", Assert.Throws<OverflowException>(() => beyond.Next()).Message, StringComparison.Ordinal);
        Assert.Equal(0, beyond.Issued);
    }

    [Fact]
    public void A_floor_ahead_of_the_clock_starts_ids_there_without_waiting()
    {
        var time = new FakeTimeProvider(Start);
        var node = new ObeliskNode(2, Sequencer(), time, maxClockLead: TimeSpan.Zero, floorMilliseconds: StartMs + 5_000);
        var id = node.Next();
        Assert.Equal(ScarabId.Create(StartMs + 5_000, 2, 0), id);
    }

    [Fact]
    public void A_recovered_node_resumes_above_everything_reserved_even_when_its_clock_is_behind()
    {
        var time = new ManualClock(Start);
        ScarabId last;
        var first = Sequencer("r.obelisk", blockMs: 250);
        var node = new ObeliskNode(4, first, time, TimeSpan.FromHours(1));
        // Run far ahead of the clock: 20 ms worth of IDs at one instant.
        last = default;
        for (var i = 0; i < 5; i++)
        {
            last = node.NextBlock(4 * ScarabId.SequencesPerMillisecond).Last;
        }

        Assert.Equal(StartMs + 19, last.Milliseconds);
        first.Dispose();

        // The "restarted" process has a clock that went back a minute.
        var restarted = new ManualClock(Start.AddMinutes(-1));
        var recovered = new ObeliskNode(4, Sequencer("r.obelisk", blockMs: 250), restarted, TimeSpan.Zero);
        var resumed = recovered.Next();
        Assert.True(resumed > last);
        // The first block (4 ms) extended the file by a 250 ms reservation beyond it; the rest fitted inside.
        Assert.Equal(ScarabId.Create(StartMs + 4 + 250, 4, 0), resumed);
    }

    [Fact]
    public async Task Many_threads_never_get_the_same_id()
    {
        var node = new ObeliskNode(9, Sequencer(), new FakeTimeProvider(Start), TimeSpan.FromDays(1));
        var ids = new ConcurrentBag<ScarabId[]>();
        var threads = Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            var mine = new ScarabId[25_000];
            for (var i = 0; i < mine.Length; i++)
            {
                mine[i] = i % 5 == 0 ? node.NextBlock(3).Last : node.Next();
                Assert.True(i == 0 || mine[i] > mine[i - 1]);
            }

            ids.Add(mine);
        })).ToArray();
        await Task.WhenAll(threads);
        var all = ids.SelectMany(a => a).ToArray();
        Assert.Equal(all.Length, all.Distinct().Count());
        Assert.Equal(8 * (20_000 + 5_000 * 3), node.Issued);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1024)]
    public void An_obelisk_id_out_of_range_is_refused(int obeliskId)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ObeliskNode(obeliskId, Sequencer(), TimeProvider.System, TimeSpan.Zero));
        Assert.Contains("0..1023", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65_537)]
    public void A_block_count_out_of_range_is_refused(int count)
    {
        var node = new ObeliskNode(0, Sequencer(), new FakeTimeProvider(Start), TimeSpan.Zero);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => node.NextBlock(count)).ParamName);
        Assert.Equal(0, node.Issued);
    }
}
