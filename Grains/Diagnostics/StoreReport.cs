namespace Pyralog.Grains.Diagnostics;

/// <summary>A silo store's shape and work since it opened (from <c>PyramidStore.GetStatistics</c>).</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.StoreReport")]
public sealed record StoreReport(
    [property: Id(0)] int Logs,
    [property: Id(1)] long MemtableBytes,
    [property: Id(2)] long BlockCacheBytes,
    [property: Id(3)] long UserBytesWritten,
    [property: Id(4)] long WalBytesWritten,
    [property: Id(5)] long FlushBytesWritten,
    [property: Id(6)] long CompactionBytesWritten,
    [property: Id(7)] double WriteAmplification,
    [property: Id(8)] long[] LevelBytes,
    [property: Id(9)] int[] LevelSegments,
    [property: Id(10)] int MappedSegments,
    [property: Id(11)] int MappedSegmentLimit);
