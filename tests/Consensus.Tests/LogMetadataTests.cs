using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>Term runs and configuration history follow appends, truncations and compaction, and round-trip through what a host persists.</summary>
public sealed class LogMetadataTests
{
    [Fact]
    public void TermsAndConfigurationsFollowTheLogAndRoundTrip()
    {
        var three = ClusterConfig.Of(1, 2, 3);
        var two = ClusterConfig.Of(1, 2);
        var meta = new LogMetadata(new RaftSnapshot(10, 2, three, ReadOnlyMemory<byte>.Empty));
        Assert.True(meta.Append([Entry(11, 2), Entry(12, 3), new LogEntry(13, 3, EntryType.Config, two.Encode()), Entry(14, 4)]));
        Assert.Equal(new long[] { 2, 2, 3, 3, 4, 0 }, new long[] { 10, 11, 12, 13, 14, 15 }.Select(meta.Term));
        Assert.Equal(0, meta.Term(9));
        Assert.Equal(two.Voters, meta.Config.Voters);

        // Overwriting from 13 drops the configuration entry there and the runs behind it.
        Assert.True(meta.Append([Entry(13, 5)]));
        Assert.Equal(3, meta.Config.Voters.Count);
        Assert.Equal(new[] { new TermRun(10, 2), new TermRun(12, 3), new TermRun(13, 5) }, meta.Runs);

        var copy = LogMetadata.FromPersisted(meta.Snapshot, meta.LastIndex, meta.Runs, meta.Configs);
        Assert.Equal(meta.Runs, copy.Runs);
        Assert.Equal(meta.Configs, copy.Configs);
        Assert.Equal(13, copy.LastIndex);

        meta.Compact(new RaftSnapshot(12, 3, three, ReadOnlyMemory<byte>.Empty));
        Assert.Equal(new[] { new TermRun(12, 3), new TermRun(13, 5) }, meta.Runs);
        Assert.Equal(0, meta.Term(11));
        Assert.Throws<ArgumentException>(() => LogMetadata.FromPersisted(meta.Snapshot, 13, [new TermRun(11, 3)], meta.Configs));
    }

    private static LogEntry Entry(long index, long term) => new(index, term, EntryType.Normal, ReadOnlyMemory<byte>.Empty);
}
