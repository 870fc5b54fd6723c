using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Logs;

/// <summary>The seam's producer over the client's <see cref="LogProducer"/>.</summary>
internal sealed class ClientRecordProducer(LogProducer producer) : IRecordProducer
{
    public async Task<RecordAddress> ProduceAsync(string log, int? partition, ProducerRecord record, CancellationToken cancellationToken)
    {
        var ack = partition is { } p
            ? await producer.ProduceAsync(log, p, record, cancellationToken)
            : await producer.ProduceAsync(log, record, cancellationToken);
        return new RecordAddress(ack.Partition, ack.Epoch, ack.Offset);
    }

    public Task FlushAsync(CancellationToken cancellationToken) => producer.FlushAsync(cancellationToken);

    public ValueTask DisposeAsync() => producer.DisposeAsync();
}
