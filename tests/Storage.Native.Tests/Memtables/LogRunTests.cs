using Pyralog.Storage.Native.Memtables;

namespace Pyralog.Storage.Native.Tests.Memtables;

public class LogRunTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(4_096)]
    [InlineData(4_097)]
    [InlineData(20_000)]
    public void Every_published_slot_is_read_back_at_its_offset_and_nothing_past_the_end(int records)
    {
        var run = new LogRun(1_000, createdSequence: 7);
        for (var i = 0; i < records; i++)
        {
            run.Publish(((long)i << 32) | (uint)(i * 3));
        }

        Assert.Equal(records, run.Count);
        Assert.Equal(1_000ul + (ulong)records, run.EndOffset);
        for (var i = 0; i < records; i++)
        {
            Assert.True(run.TryGetSlot(1_000ul + (ulong)i, out var slot));
            Assert.Equal(((long)i << 32) | (uint)(i * 3), slot);
        }

        Assert.False(run.TryGetSlot(999, out _));
        Assert.False(run.TryGetSlot(1_000ul + (ulong)records, out _));
    }

    [Fact]
    public async Task A_reader_beside_the_writer_finds_every_slot_the_count_covers()
    {
        var run = new LogRun(0, createdSequence: 1);
        const int records = 50_000;
        var reader = Task.Run(() =>
        {
            var checkedUpTo = 0;
            while (checkedUpTo < records)
            {
                var count = run.Count;
                for (var i = checkedUpTo; i < count; i++)
                {
                    Assert.True(run.TryGetSlot((ulong)i, out var slot));
                    Assert.Equal(i + 1L, slot);
                }

                checkedUpTo = count;
            }
        });
        for (var i = 0; i < records; i++)
        {
            run.Publish(i + 1L);
        }

        await reader.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
