using System.Diagnostics.Metrics;

namespace Pyralog.Storage.Native;

/// <summary>
/// The commit path's histograms (meter <c>Pyralog.Storage</c>): how long each WAL fdatasync takes and how many
/// batches each commit group carries (the group commit across partitions at work). Recorded on the commit thread;
/// a record costs a few nanoseconds when nothing listens.
/// </summary>
public static class StoreCommitInstruments
{
    public const string MeterName = "Pyralog.Storage";

    private static readonly Meter Meter = new(MeterName);

    public static readonly Histogram<double> WalSyncDuration = Meter.CreateHistogram<double>(
        "pyralog.storage.wal.sync.duration", "s", "Time of one fdatasync of the write-ahead log.");

    public static readonly Histogram<int> CommitGroupSize = Meter.CreateHistogram<int>(
        "pyralog.storage.commit.group.size", "{batch}", "Write batches carried by one commit group (one WAL write, at most one fdatasync).");
}
