using Pyralog.Storage.Native.Memtables;

namespace Pyralog.Storage.Native.Tests.Memtables;

/// <summary>The arena chunk pool: reuse, and chunks warmed ahead of the writer within the pool's bound.</summary>
public class ArenaPoolTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_pool_that_does_not_warm_makes_chunks_only_when_asked()
    {
        var pool = new ArenaPool(maxChunks: 8);
        var rented = new List<byte[]> { pool.Rent(), pool.Rent(), pool.Rent() };
        await pool.StopWarmingAsync();

        Assert.Equal(0, pool.FreeChunks);
        Assert.All(rented, chunk => Assert.Equal(ArenaPool.ChunkBytes, chunk.Length));
        pool.Return(rented);
        Assert.Equal(3, pool.FreeChunks);
    }

    [Fact]
    public async Task A_warming_pool_keeps_as_many_chunks_ready_as_it_handed_out_up_to_its_warm_ahead()
    {
        var pool = new ArenaPool(maxChunks: 64, warmAhead: 4);
        var rented = new List<byte[]>();
        for (var i = 1; i <= 6; i++)
        {
            rented.Add(pool.Rent());
            var ready = Math.Min(4, i);
            Assert.True(SpinWait.SpinUntil(() => pool.FreeChunks == ready, Patience), $"after {i} chunks handed out, {ready} should be ready; {pool.FreeChunks} are");
        }

        await pool.StopWarmingAsync();
        Assert.Equal(4, pool.FreeChunks);
        Assert.Equal(6, rented.Distinct().Count()); // each handed out once: a warmed chunk leaves the pool when rented
    }

    [Fact]
    public async Task Warming_never_takes_the_pool_past_its_bound()
    {
        var pool = new ArenaPool(maxChunks: 3, warmAhead: 16);
        var a = pool.Rent();
        Assert.True(SpinWait.SpinUntil(() => pool.FreeChunks == 1, Patience));
        var b = pool.Rent(); // takes the warmed chunk; one more fits under the bound
        Assert.True(SpinWait.SpinUntil(() => pool.FreeChunks == 1, Patience));
        var c = pool.Rent(); // three handed out: the bound is reached
        await pool.StopWarmingAsync();

        Assert.Equal(0, pool.FreeChunks);
        pool.Return([a, b, c]);
        Assert.Equal(3, pool.FreeChunks);
    }

    [Fact]
    public async Task A_stopped_pool_warms_no_more()
    {
        var pool = new ArenaPool(maxChunks: 64, warmAhead: 16);
        await pool.StopWarmingAsync();
        var chunk = pool.Rent();
        await pool.StopWarmingAsync();

        Assert.Equal(ArenaPool.ChunkBytes, chunk.Length);
        Assert.Equal(0, pool.FreeChunks);
    }
}
