#if PYRALOG_CLIENT_LOGS
using Pyralog.Client;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Pyralog through the client library, as an application uses it: a <see cref="LogProducer"/> (idempotent, no linger so
/// a lone record is not held back, up to 5 batches in flight per partition, 1 MiB batches) and a <see cref="LogConsumer"/>
/// reading about <see cref="ClusterSettings.ReadPage"/> records per fetch. The failover producer is a producer of its own
/// with one record in flight and a 250 ms request timeout (it retries at the new leader itself).
/// </summary>
internal sealed class PyralogClientPath : IPyralogPath
{
    private readonly PyralogClient _client;
    private readonly LogInfo _log;
    private readonly LogProducer _producer;
    private readonly List<LogProducer> _failoverProducers = [];

    public PyralogClientPath(PyralogClient client, LogInfo log)
    {
        _client = client;
        _log = log;
        _producer = client.CreateProducer(new ProducerOptions { Linger = TimeSpan.Zero, MaxInFlight = 5, Idempotent = true });
    }

    public string Description => "the client library (LogProducer, LogConsumer)";

    public Task ProduceAsync(ProducerRecord record) => _producer.ProduceAsync(_log.Name, 0, record);

    public async Task<(long Records, long Bytes)> ConsumeAsync(long expected, TimeSpan budget, CancellationToken cancellationToken)
    {
        var maxBytes = ClusterSettings.ReadPage * new ProducerRecord(null, new byte[ClusterSettings.RecordBytes]).EncodedBytes;
        var consumer = _client.CreateConsumer(new ConsumerOptions { MaxBytes = maxBytes, MaxWait = TimeSpan.FromMilliseconds(500) });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(budget);
        long records = 0, bytes = 0;
        try
        {
            await foreach (var record in consumer.ConsumeAsync(_log.Name, 0, ConsumeFrom.Earliest, timeout.Token))
            {
                bytes += record.Value.Length;
                if (++records >= expected)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // the budget ran out: reported with what was read
        }

        return (records, bytes);
    }

    public Func<Task<bool>> FailoverProducer(int partition, int leaderGuess, byte[] payload)
    {
        var producer = _client.CreateProducer(new ProducerOptions
        {
            Linger = TimeSpan.Zero,
            MaxInFlight = 1,
            RequestTimeout = ClusterSettings.AttemptTimeout,
            DeliveryTimeout = TimeSpan.FromSeconds(60),
            Idempotent = true,
        });
        _failoverProducers.Add(producer);
        var record = new ProducerRecord(null, payload);
        return async () =>
        {
            await producer.ProduceAsync(_log.Name, partition, record);
            return true;
        };
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var producer in _failoverProducers.Append(_producer))
        {
            try
            {
                await producer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e)
            {
                ClusterSettings.Log($"a producer did not close cleanly: {e.GetType().Name}: {e.Message}");
            }
        }
    }
}
#endif
