using System.Text;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// The leader's silo dies while a producer produces and a consumer reads from that same replica: every record is
/// acknowledged once, lands once and in order, and the consumer continues from its position on another replica. Own
/// cluster (it kills a silo).
/// </summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private readonly ClientClusterFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Producing_and_consuming_survive_the_loss_of_the_leaders_silo_without_duplicates_or_gaps()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var metadata = new CachedLogs(grains, TimeProvider.System); // shared, as PyralogClient shares it: the consumer starts at the leader the producer found
        await using var producer = new LogProducer(metadata, new ProducerOptions
        {
            Linger = TimeSpan.FromMilliseconds(1),
            RequestTimeout = TimeSpan.FromSeconds(2),
            DeliveryTimeout = TimeSpan.FromSeconds(60),
        });

        // A log whose leader is not on the primary silo (it holds the test cluster's membership table).
        var primary = cluster.Primary!.SiloAddress.ToParsableString();
        LogInfo log = null!;
        ReplicaStatus leader = null!;
        for (var attempt = 0; leader is null || leader.Silo == primary; attempt++)
        {
            Assert.True(attempt < 6, "every log's leader landed on the primary silo");
            log = await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync($"failover{attempt}", 1, 3);
            await producer.ProduceAsync(log.Name, Rec(0)); // follows redirects: the cache now names the leader
            leader = await grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, metadata.TryGet(log.Name, out var cached) ? cached.Leader(0) : 0)).GetStatusAsync();
        }

        Assert.Equal(ReplicaRole.Leader, leader.Role);
        const int total = 300;
        var consumer = new LogConsumer(metadata, new ConsumerOptions { MaxWait = TimeSpan.FromMilliseconds(500), RequestTimeout = TimeSpan.FromSeconds(2) });
        var consumed = Streams.TakeAsync(consumer.ConsumeAsync(log.Name, 0, ConsumeFrom.Earliest), total + 1, TimeSpan.FromSeconds(90));

        var acks = new List<RecordAck>();
        for (var group = 0; group < total / 10; group++)
        {
            if (group == 10)
            {
                await cluster.KillSiloAsync(cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == leader.Silo));
            }

            var pending = new Task<RecordAck>[10];
            for (var i = 0; i < pending.Length; i++)
            {
                pending[i] = producer.ProduceAsync(log.Name, Rec(1 + group * 10 + i));
            }

            acks.AddRange(await Task.WhenAll(pending));
        }

        // Acknowledged once each, at dense offsets after the first record, in the order produced; a new epoch after the kill.
        Assert.Equal(Enumerable.Range(1, total).Select(o => (ulong)o), acks.Select(a => a.Offset));
        Assert.True(acks[^1].Epoch > acks[0].Epoch, "the records after the kill were appended by a new leader");

        // The consumer read from the lost replica and went on from its position elsewhere: every record exactly once.
        var records = await consumed;
        Assert.Equal(Enumerable.Range(0, total + 1).Select(o => (ulong)o), records.Select(r => r.Offset));
        Assert.Equal(Enumerable.Range(0, total + 1).Select(v => $"r{v}"), records.Select(r => Encoding.UTF8.GetString(r.Value)));
        Assert.Equal(acks.Select(a => a.Epoch), records.Skip(1).Select(r => r.Epoch));
    }

    private static ProducerRecord Rec(int value) => new(null, Encoding.UTF8.GetBytes($"r{value}"));
}
