using System.Collections.Concurrent;
using System.Diagnostics;
using Pyralog.Client.Diagnostics;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// One produce is one trace: the client's send span, Orleans' grain-call spans under it, the leader's append span
/// (tagged with the offset the producer was given) under those, and under the append the leader's persist and one
/// replicate span per follower.
/// </summary>
[Collection(ClientClusterCollection.Name)]
public sealed class ProduceTraceTests(ClientClusterFixture fixture)
{
    [Fact]
    public async Task A_produce_is_one_trace_from_the_client_through_the_grain_call_to_the_leaders_append()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is ClientInstruments.Name or "Pyralog.Replication" || source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);

        var cluster = fixture.Cluster;
        var log = await cluster.Client.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("traced", 1, 3);
        await using var producer = new LogProducer(new CachedLogs(cluster.Client, TimeProvider.System), new ProducerOptions { Linger = TimeSpan.Zero });
        await producer.ProduceAsync(log.Name, 0, new ProducerRecord(null, "warm-up"u8.ToArray())); // learns the leader
        var ack = await producer.ProduceAsync(log.Name, 0, new ProducerRecord(null, "traced"u8.ToArray()));

        // The append span ends before the acknowledgement leaves the silo, the produce span right after it arrives.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        Activity? produce = null, append = null;
        while ((produce is null || append is null) && DateTime.UtcNow < deadline)
        {
            // This log's append at the acknowledged offset, in the trace of a produce to this log: other tests append at
            // small offsets too, and the clusters of other test collections in this process reuse the same log ids.
            append = spans.FirstOrDefault(s => s.Source.Name == "Pyralog.Replication" && Equals(s.GetTagItem("pyralog.offset"), (long)ack.Offset) &&
                s.GetTagItem("pyralog.replica") is string replica && replica.StartsWith($"{log.Id}/0/", StringComparison.Ordinal) &&
                spans.Any(p => p.Source.Name == ClientInstruments.Name && p.TraceId == s.TraceId && Equals(p.GetTagItem("pyralog.log"), log.Name)));
            produce = append is null ? null : spans.FirstOrDefault(s => s.Source.Name == ClientInstruments.Name && s.TraceId == append.TraceId);
            await Task.Delay(20);
        }

        Assert.NotNull(append);
        Assert.NotNull(produce);
        Assert.Equal("pyralog.produce", produce.DisplayName);
        Assert.Equal("traced", produce.GetTagItem("pyralog.log"));
        Assert.Equal(1, produce.GetTagItem("pyralog.records"));
        Assert.StartsWith($"{log.Id}/0/", (string)append.GetTagItem("pyralog.replica")!);

        // The append's ancestors, walked through the spans recorded, reach the produce span through an Orleans span.
        var byId = spans.Where(s => s.TraceId == produce.TraceId).ToDictionary(s => s.SpanId);
        var chain = new List<Activity>();
        for (var span = append; span is not null; span = byId.GetValueOrDefault(span.ParentSpanId))
        {
            chain.Add(span);
        }

        Assert.Same(produce, chain[^1]);
        Assert.Contains(chain, s => s.Source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));

        // Under the append: the leader's own persist and one replicate span per follower, each ended once that replica
        // held the entry durably (a follower slower than the quorum ends its span after the acknowledgement).
        var leader = int.Parse(((string)append.GetTagItem("pyralog.replica")!).Split('/')[2], System.Globalization.CultureInfo.InvariantCulture);
        List<Activity> children = [];
        while (children.Count < 3 && DateTime.UtcNow < deadline)
        {
            children = [.. spans.Where(s => s.ParentSpanId == append.SpanId && s.TraceId == append.TraceId && s.DisplayName is "pyralog.persist" or "pyralog.replicate")];
            await Task.Delay(20);
        }

        Assert.Equal(
            [("pyralog.persist", leader), .. Enumerable.Range(0, 3).Where(r => r != leader).Select(r => ("pyralog.replicate", r))],
            children.Select(c => (c.DisplayName, (int)c.GetTagItem("pyralog.replica")!)).OrderBy(c => c.DisplayName).ThenBy(c => c.Item2));
        Assert.All(children, c => Assert.Equal(ActivityStatusCode.Unset, c.Status));
        Assert.All(children, c => Assert.True(c.StartTimeUtc >= append.StartTimeUtc && c.Duration > TimeSpan.Zero));
        var index = Assert.Single(children.Select(c => (long)c.GetTagItem("pyralog.index")!).Distinct());
        Assert.True(index > 0);
    }
}
