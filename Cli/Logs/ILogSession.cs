using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Logs;

/// <summary>
/// What the log commands need from a cluster: the seam between parsing and printing (tested without a cluster) and the
/// client library (<see cref="ClientLogSession"/>).
/// </summary>
internal interface ILogSession : IAsyncDisposable
{
    Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings settings);

    Task DeleteLogAsync(string name);

    Task<LogInfo[]> ListLogsAsync();

    /// <summary>The log, or null when no log has that name.</summary>
    Task<LogInfo?> FindLogAsync(string name);

    Task<LogDescription> DescribeLogAsync(string name);

    /// <summary>
    /// The offset of the first record of the partition appended at or after <paramref name="time"/> (the committed end
    /// when none): the furthest answer of the replicas that answer (one that is behind answers short).
    /// </summary>
    Task<ulong> FindOffsetAsync(LogInfo log, int partition, DateTimeOffset time, CancellationToken cancellationToken);

    /// <summary>
    /// The partition's first retained offset and committed end as its leader confirms them (a linearizable read: every
    /// record acknowledged before is below the end, also just after an election); throws when no replica answers as the
    /// leader.
    /// </summary>
    Task<PartitionBounds> ReadBoundsAsync(LogInfo log, int partition, CancellationToken cancellationToken);

    IRecordProducer CreateProducer();

    /// <summary>The committed records of one partition from <paramref name="from"/> on, up to <paramref name="end"/> (not
    /// included; the enumeration ends there, also when retention dropped the records before it), or without one waiting
    /// at the end for more.</summary>
    IAsyncEnumerable<ConsumedRecord> ConsumeAsync(string log, int partition, ConsumeStart from, ulong? end, CancellationToken cancellationToken);
}
