using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Logs;

/// <summary>A batching producer (the client's <c>LogProducer</c>, behind the seam).</summary>
internal interface IRecordProducer : IAsyncDisposable
{
    /// <summary>
    /// Queues a record for <paramref name="log"/>, in <paramref name="partition"/> or (null) where the client's
    /// partitioner puts it; completes with its address once acknowledged.
    /// </summary>
    Task<RecordAddress> ProduceAsync(string log, int? partition, ProducerRecord record, CancellationToken cancellationToken);

    /// <summary>Sends what is queued now instead of after the linger.</summary>
    Task FlushAsync(CancellationToken cancellationToken);
}
