namespace Pyralog.Client.Logs;

/// <summary>
/// Records a <see cref="LogProducer"/> gave up on: <see cref="RecordCount"/> records of one batch for
/// <see cref="Log"/>/<see cref="Partition"/> were not acknowledged. The inner exception is the last error (the
/// server's answer, or the timeout). Whether such records are in the log is not known unless the inner exception
/// says nothing was appended (a record refused as too large, a deleted log). Records whose log's metadata could not be
/// read were never sent.
/// </summary>
public sealed class ProduceException : Exception
{
    public ProduceException()
    {
    }

    public ProduceException(string message)
        : base(message)
    {
    }

    public ProduceException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ProduceException(string log, int partition, int recordCount, string reason, Exception? inner)
        : base($"{recordCount} record{(recordCount == 1 ? "" : "s")} of log '{log}'{(partition >= 0 ? $" partition {partition}" : "")} {(recordCount == 1 ? "was" : "were")} not acknowledged: {reason}" +
            (inner is null ? "" : $" (last error: {inner.Message})"), inner)
    {
        Log = log;
        Partition = partition;
        RecordCount = recordCount;
    }

    /// <summary>The log the records were produced to.</summary>
    public string Log { get; } = "";

    /// <summary>The partition the records were produced to; -1 when none was chosen (the log's metadata could not be read).</summary>
    public int Partition { get; }

    /// <summary>How many records (one batch) this failure covers; each of their tasks carries this exception.</summary>
    public int RecordCount { get; }

    /// <summary>
    /// The cluster refused the records: the partition turned their batch down as invalid (nothing was appended) or the
    /// log was deleted. Sending them again would be refused too; any other failure (a delivery timeout, an unexpected
    /// error, a batch too old to tell) may pass.
    /// </summary>
    public bool Refused { get; init; }
}
