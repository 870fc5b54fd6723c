using System.Diagnostics;
using NATS.Client.JetStream;
using Pyralog.Bench.Harness;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// NATS JetStream's side of the suite: three nats-servers, one R3 file stream <c>BENCH</c> on subject <c>bench</c>
/// (limits retention, no message ids, so no deduplication), 100 B messages. Publishers talk to the stream leader's
/// server (no route hop), as the other systems are driven at their leaders.
/// </summary>
internal static class JetStreamCases
{
    public const string System = "jetstream";
    private const string Stream = "BENCH";
    private const string Subject = "bench";

    public static async Task RunAsync(BenchReport report, string root, string binary, CancellationToken cancellationToken)
    {
        await using var cluster = await NatsCluster.StartAsync(root, binary, cancellationToken);
        await cluster.CreateStreamAsync(Stream, Subject, cancellationToken);
        var leader = await cluster.LeaderAsync(Stream, cancellationToken);
        ClusterSettings.Log($"jetstream: 3 servers up, R3 file stream {Stream} led by {NatsCluster.ServerName(leader)}");
        var payload = ClusterSettings.Payload();
        var js = cluster.JetStream(leader);

        async Task Publish(long n)
        {
            var ack = await js.PublishAsync(Subject, payload, cancellationToken: cancellationToken);
            if (ack.Error is { } error)
            {
                throw new InvalidOperationException($"publish refused: {error.Code} {error.Description}");
            }
        }

        await ClusterReport.RunCaseAsync(report, "produce-100B-window", System, async () =>
        {
            var result = await LoadDriver.RunAsync(ClusterSettings.Window, ClusterSettings.Warmup, ClusterSettings.WindowMeasure, Publish, () => cluster.ProcessIds, cancellationToken);
            ClusterReport.Produce(report, "produce-100B-window", System, result, withThroughput: true);
        });
        await ClusterReport.RunCaseAsync(report, "produce-100B-sync", System, async () =>
        {
            var result = await LoadDriver.RunAsync(1, ClusterSettings.Warmup, ClusterSettings.SyncMeasure, Publish, () => cluster.ProcessIds, cancellationToken);
            ClusterReport.Produce(report, "produce-100B-sync", System, result, withThroughput: false);
        });
        await ClusterReport.RunCaseAsync(report, "consume-100B", System, () => ConsumeAsync(report, cluster, cancellationToken));
        await ClusterReport.RunCaseAsync(report, "failover", System, () => FailoverAsync(report, cluster, payload, cancellationToken));
    }

    /// <summary>
    /// An ordered consumer (an ephemeral pull consumer the client keeps in order) on the leader's server reads the
    /// stream from its first message, pulling batches of <see cref="ClusterSettings.ReadPage"/> messages, until it has
    /// every message the stream held when the case began.
    /// </summary>
    private static async Task ConsumeAsync(BenchReport report, NatsCluster cluster, CancellationToken cancellationToken)
    {
        var expected = await cluster.MessagesAsync(Stream, cancellationToken);
        var leader = await cluster.LeaderAsync(Stream, cancellationToken);
        var consumer = await cluster.JetStream(leader).CreateOrderedConsumerAsync(Stream, cancellationToken: cancellationToken);
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(ClusterSettings.ConsumeBudget);
        long records = 0, bytes = 0;
        var watch = Stopwatch.StartNew();
        try
        {
            await foreach (var message in consumer.ConsumeAsync<byte[]>(opts: new NatsJSConsumeOpts { MaxMsgs = ClusterSettings.ReadPage }, cancellationToken: budget.Token))
            {
                bytes += message.Data?.Length ?? 0;
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

        var elapsed = watch.Elapsed;
        if (bytes != records * ClusterSettings.RecordBytes)
        {
            ClusterSettings.Log($"jetstream consume: {bytes} bytes in {records} messages, not {ClusterSettings.RecordBytes} B each");
        }

        ClusterReport.Consume(report, "consume-100B", System, records, elapsed, expected);
    }

    /// <summary>
    /// Trials of <see cref="FailoverProbe"/>: the producer holds a connection to every server and publishes on one
    /// (with a message id, so a retried publish is not stored twice); an attempt that fails or is not acknowledged within
    /// the attempt timeout moves to the next server. The stream leader's server (stream info's cluster leader) is killed,
    /// then started again on its store, and the stream is healthy again before the next trial.
    /// </summary>
    private static async Task FailoverAsync(BenchReport report, NatsCluster cluster, byte[] payload, CancellationToken cancellationToken)
    {
        var trials = new List<double>();
        var failed = 0;
        long sequence = 0;
        for (var trial = 0; trial < ClusterSettings.FailoverTrials; trial++)
        {
            await cluster.WaitHealthyAsync(Stream, cancellationToken);
            var victim = await cluster.LeaderAsync(Stream, cancellationToken);
            var current = victim;
            async Task<bool> Attempt()
            {
                var server = Volatile.Read(ref current);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(ClusterSettings.AttemptTimeout);
                try
                {
                    var id = $"f-{Interlocked.Read(ref sequence)}";
                    var ack = await cluster.JetStream(server).PublishAsync(Subject, payload, opts: new NatsJSPubOpts { MsgId = id }, cancellationToken: timeout.Token);
                    if (ack.Error is null)
                    {
                        Interlocked.Increment(ref sequence);
                        return true;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    // not acknowledged in time, or refused: try the next server
                }

                Interlocked.CompareExchange(ref current, (server + 1) % NatsCluster.Size, server);
                return false;
            }

            try
            {
                var ms = await FailoverProbe.TrialAsync(Attempt, () => cluster.Kill(victim), cancellationToken);
                trials.Add(ms);
                ClusterSettings.Log($"jetstream failover trial {trial + 1}: SIGKILL {NatsCluster.ServerName(victim)} (stream leader) -> first publish acknowledged after {ms:0} ms");
            }
            catch (TimeoutException e)
            {
                ClusterSettings.Log($"jetstream failover trial {trial + 1}: SIGKILL {NatsCluster.ServerName(victim)} FAILED: {e.Message}\n{cluster.OutputTail(victim)}");
                failed++;
            }
            finally
            {
                cluster.Restart(victim);
            }
        }

        await cluster.WaitHealthyAsync(Stream, cancellationToken);
        ClusterReport.Failover(report, "failover", System, trials, failed);
    }
}
