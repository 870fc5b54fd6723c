using Microsoft.Extensions.Time.Testing;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>The generator against fake obelisks that answer late or never, on a fake clock.</summary>
public sealed class ScarabIdGeneratorHedgingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromMilliseconds(250);

    // A real-time bound on awaiting what the fake clock already made due; never reached when the generator is right.
    private static readonly TimeSpan Safety = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly FakeObeliskFactory _obelisks = new();

    [Fact]
    public async Task A_frozen_obelisk_is_hedged_at_the_deadline_and_its_late_block_is_used_when_it_comes()
    {
        _obelisks[1].Held = true;
        var generator = new ScarabIdGenerator(_obelisks, Options([1, 2], prefetch: 1), _time);

        var first = generator.NextAsync();
        _time.Advance(Deadline - TimeSpan.FromMilliseconds(1));
        Assert.False(first.IsCompleted, "the generator hedged before the deadline");
        Assert.Equal(0, _obelisks[2].Calls);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var ids = new List<ScarabId> { await first.AsTask().WaitAsync(Safety) };
        Assert.Equal(2, ids[0].ObeliskId);

        // Obelisk 1 thaws: its late block is used, in full and in order.
        _obelisks[1].Release();
        var late = await TakeUntilAsync(generator, ids, id => id.ObeliskId == 1);
        Assert.Equal(_obelisks[1].FirstIssued, late);
        for (var i = 0; i < 30; i++)
        {
            ids.Add(await generator.NextAsync().AsTask().WaitAsync(Safety));
        }

        Assert.Equal(Enumerable.Range(0, 10).Select(i => new ScarabId(late.Value + (ulong)i)), ids.Where(id => id.ObeliskId == 1).Take(10));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        AssertIncreasingPerObelisk(ids);
        Assert.Equal([1, 2], generator.ObeliskIds);
    }

    [Fact]
    public async Task A_late_obelisk_is_skipped_for_new_requests_until_it_answers()
    {
        _obelisks[1].Held = true;
        var generator = new ScarabIdGenerator(_obelisks, Options([1, 2, 3], prefetch: 2), _time);
        var first = generator.NextAsync();
        _time.Advance(Deadline);
        await first.AsTask().WaitAsync(Safety);

        for (var i = 0; i < 200; i++)
        {
            await generator.NextAsync().AsTask().WaitAsync(Safety);
        }

        Assert.Equal(1, _obelisks[1].Calls); // the one late request, never a second while it hangs
        _obelisks[1].Release();
        await TakeUntilAsync(generator, [], _ => _obelisks[1].Calls > 1);
            }

    [Fact]
    public async Task When_the_whole_spread_is_late_the_generator_extends_to_adjacent_obelisk_ids()
    {
        _obelisks.HoldNew = true;
        var generator = new ScarabIdGenerator(_obelisks, new ScarabIdGeneratorOptions { Spread = 2, BlockSize = 10, PrefetchBlocks = 2 }, _time);
        var spread = generator.ObeliskIds;
        Assert.Equal(2, spread.Count);
        _obelisks.HoldNew = false;

        var next = generator.NextAsync();
        _time.Advance(Deadline);
        var id = await next.AsTask().WaitAsync(Safety);

        var extended = generator.ObeliskIds;
        // One fresh adjacent id per hedge (prefetch 2), each asked in parallel rather than queued behind the other.
        Assert.Equal(4, extended.Count);
        Assert.Equal((spread[1] + 1) & ScarabId.MaxObeliskId, extended[2]);
        Assert.Equal((spread[1] + 2) & ScarabId.MaxObeliskId, extended[3]);
        Assert.Equal(extended[2], id.ObeliskId);
    }

    [Fact]
    public async Task A_failing_obelisk_reaches_no_caller_while_another_answers_and_is_asked_again_a_second_later()
    {
        _obelisks[1].Failing = true;
        var generator = new ScarabIdGenerator(
            _obelisks, new ScarabIdGeneratorOptions { ObeliskIds = [1, 2], BlockSize = 10, PrefetchBlocks = 2, MaxAttempts = 1 }, _time);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(2, (await generator.NextAsync().AsTask().WaitAsync(Safety)).ObeliskId);
        }

        Assert.Equal(1, _obelisks[1].Calls); // avoided after its failure
        _time.Advance(TimeSpan.FromSeconds(1));
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(2, (await generator.NextAsync().AsTask().WaitAsync(Safety)).ObeliskId);
        }

        Assert.Equal(2, _obelisks[1].Calls); // asked once more, failed, avoided again
    }

    [Fact]
    public async Task A_generator_fixed_to_one_obelisk_waits_for_it_and_stays_strictly_increasing()
    {
        _obelisks[7].Held = true;
        var generator = new ScarabIdGenerator(_obelisks, Options([7], prefetch: 4), _time);
        var first = generator.NextAsync();
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(first.IsCompleted, "an ID came from nowhere");

        _obelisks[7].Release();
        var ids = new List<ScarabId> { await first.AsTask().WaitAsync(Safety) };
        for (var i = 0; i < 100; i++)
        {
            ids.Add(await generator.NextAsync().AsTask().WaitAsync(Safety));
        }

        Assert.Equal([7], _obelisks.Asked);
        for (var i = 1; i < ids.Count; i++)
        {
            Assert.True(ids[i] > ids[i - 1], $"ID #{i} {ids[i].ToReadableString()} is not above {ids[i - 1].ToReadableString()}");
        }
    }

    [Fact]
    public async Task Concurrent_callers_get_unique_ids_in_per_obelisk_order_while_one_obelisk_never_answers()
    {
        _obelisks[2].Held = true;
        var generator = new ScarabIdGenerator(
            _obelisks,
            new ScarabIdGeneratorOptions { ObeliskIds = [1, 2, 3], BlockSize = 50, PrefetchBlocks = 3, RequestDeadline = TimeSpan.FromMilliseconds(5) });
        var perCaller = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var mine = new List<ScarabId>(5_000);
            for (var i = 0; i < 5_000; i++)
            {
                mine.Add(i % 2 == 0 && generator.TryNext(out var id) ? id : await generator.NextAsync());
            }

            return mine;
        }))).WaitAsync(TimeSpan.FromSeconds(60));

        var all = perCaller.SelectMany(ids => ids).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.DoesNotContain(all, id => id.ObeliskId == 2);
        Assert.All(perCaller, AssertIncreasingPerObelisk);
    }

    /// <summary>Takes IDs into <paramref name="ids"/> until <paramref name="done"/> holds for the last one (a late block's arrival is asynchronous).</summary>
    private static async Task<ScarabId> TakeUntilAsync(ScarabIdGenerator generator, List<ScarabId> ids, Func<ScarabId, bool> done)
    {
        var deadline = DateTime.UtcNow + Safety;
        while (DateTime.UtcNow < deadline)
        {
            var id = await generator.NextAsync().AsTask().WaitAsync(Safety);
            ids.Add(id);
            if (done(id))
            {
                return id;
            }

            await Task.Yield();
        }

        throw new TimeoutException("the condition did not hold within the deadline");
    }

    private static ScarabIdGeneratorOptions Options(int[] obeliskIds, int prefetch) =>
        new() { ObeliskIds = obeliskIds, BlockSize = 10, PrefetchBlocks = prefetch, RequestDeadline = Deadline };

    private static void AssertIncreasingPerObelisk(IEnumerable<ScarabId> ids)
    {
        var last = new Dictionary<int, ScarabId>();
        foreach (var id in ids)
        {
            if (last.TryGetValue(id.ObeliskId, out var previous))
            {
                Assert.True(id > previous, $"{id.ToReadableString()} after {previous.ToReadableString()} of the same obelisk");
            }

            last[id.ObeliskId] = id;
        }
    }
}
