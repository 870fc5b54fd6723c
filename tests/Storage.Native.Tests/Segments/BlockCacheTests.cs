using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Tests.Segments;

/// <summary>The block cache's admission: a block is cached on its second miss, not its first.</summary>
public sealed class BlockCacheTests
{
    [Fact]
    public void A_block_is_admitted_on_its_second_miss_and_only_then()
    {
        var cache = new BlockCache(1 << 20);

        Assert.False(cache.AdmitOnMiss(7, 4096)); // first miss: served without caching
        Assert.False(cache.AdmitOnMiss(8, 4096)); // another block's first miss does not admit this one
        Assert.True(cache.AdmitOnMiss(7, 4096)); // second miss: cache it
        Assert.False(cache.AdmitOnMiss(7, 4096)); // the admission is spent: a block evicted later starts over
        Assert.True(cache.AdmitOnMiss(8, 4096));
    }
}
