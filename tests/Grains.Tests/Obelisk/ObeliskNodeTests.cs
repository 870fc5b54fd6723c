using System.Collections.Concurrent;
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
