using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// How the bench produces to and reads from one Pyralog log: through the client library
/// (<see cref="PyralogClientPath"/>, when the bench is built with it) or through the grain interfaces directly
/// (<see cref="PyralogGrainPath"/>). The cases are the same either way.
/// </summary>
internal interface IPyralogPath : IAsyncDisposable
{
    /// <summary>What the figures were taken through, for the log.</summary>
    string Description { get; }

    /// <summary>Produces one record to partition 0; completes once it is committed.</summary>
    Task ProduceAsync(ProducerRecord record);

    /// <summary>Reads partition 0 from its first record until <paramref name="expected"/> records were read or the budget ran out: records and value bytes read.</summary>
    Task<(long Records, long Bytes)> ConsumeAsync(long expected, TimeSpan budget, CancellationToken cancellationToken);

    /// <summary>
    /// A producer for a failover trial on <paramref name="partition"/>: each call is one attempt (one record in flight,
    /// bounded by <see cref="ClusterSettings.AttemptTimeout"/>), true when acknowledged; never throws for its failure.
    /// </summary>
    Func<Task<bool>> FailoverProducer(int partition, int leaderGuess, byte[] payload);
}
