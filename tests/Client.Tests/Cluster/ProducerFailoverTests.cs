using System.Text;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Testing;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// The leader's silo dies during a stream of produces with a full window in flight, and none of the calls to it is ever
/// answered (as with a frozen process or a partition: no connection reset): the producer asks the other replicas who
/// leads and resends its in-flight batches to the new leader long before its request timeout; every acknowledged
/// record is in the log exactly once. Own cluster (it kills a silo).
/// </summary>
public sealed class ProducerFailoverTests : IAsyncLifetime
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(5);
    private readonly ClientClusterFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_dead_leaders_unanswered_requests_fail_over_to_the_new_leader_before_the_request_timeout()
    {
        var cluster = _fixture.Cluster;
        var lost = new LostAnswers(cluster.Client);
        var metadata = new CachedLogs(lost, TimeProvider.System);
        var producer = new LogProducer(metadata, new ProducerOptions
        {
            Linger = TimeSpan.FromMilliseconds(1),
            RequestTimeout = RequestTimeout,
            DeliveryTimeout = RequestTimeout + TimeSpan.FromMinutes(1),
        });

        // A log whose leader is not on the primary silo (it holds the test cluster's membership table).
        var log = await cluster.Client.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("failover", 1, 3);
        var leader = await LeaderOffSilo.MoveAsync(cluster.Client, log, cluster.Primary!.SiloAddress.ToParsableString());
        await producer.ProduceAsync(log.Name, Rec(-1)); // follows redirects: the cache now names the leader

        // 3,000 records, 200 produces outstanding at every moment (the producer keeps up to 5 batches in flight); the
        // leader goes silent and its silo dies after the first 1,000. Finishing at all proves no request waited out its
        // 5-minute timeout: the test gives the whole stream 60 s.
        const int total = 3000;
        var produced = new List<(string Value, Task<RecordAck> Ack)>();
        var run = Task.Run(async () =>
        {
            var window = new Queue<Task<RecordAck>>();
            for (var i = 0; i < total; i++)
            {
                if (i == 1000)
                {
                    lost.Silence(leader.Key);
                    await cluster.KillSiloAsync(cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == leader.Silo));
                }

                var value = $"r{i}";
                var ack = producer.ProduceAsync(log.Name, new ProducerRecord(null, Encoding.UTF8.GetBytes(value)));
                produced.Add((value, ack));
                window.Enqueue(ack);
                if (window.Count >= 200)
                {
                    await window.Dequeue();
                }
            }

            await Task.WhenAll(window);
        });
        await run.WaitAsync(TimeSpan.FromSeconds(60));
        await producer.DisposeAsync();
        Assert.True(lost.Lost > 0, "no call went to the silenced leader");

        // Every record acknowledged once, at dense offsets after the first record(s), in the order produced; a new epoch after the kill.
        var acks = produced.Select(p => (p.Value, Ack: p.Ack.Result)).ToList();
        var first = acks[0].Ack.Offset;
        Assert.Equal(Enumerable.Range(0, total).Select(i => first + (ulong)i), acks.Select(a => a.Ack.Offset));
        Assert.True(acks[^1].Ack.Epoch > acks[0].Ack.Epoch, "the records after the kill were appended by a new leader");

        // The log holds each of them exactly once, at its acknowledged address, and nothing else after them.
        var consumer = new LogConsumer(cluster.Client, new ConsumerOptions { MaxWait = TimeSpan.FromMilliseconds(200) });
        List<ConsumedRecord> records;
        try
        {
            records = await Streams.TakeAsync(consumer.ConsumeAsync(log.Name, 0, ConsumeFrom.Offset(first)), total, TimeSpan.FromSeconds(60));
        }
        catch (Xunit.Sdk.FailException e)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}; the replicas now: {await ReplicasAsync(cluster.Client, log, first)}");
        }
        Assert.Equal(acks.Select(a => (a.Value, a.Ack.Epoch, a.Ack.Offset)), records.Select(r => (Encoding.UTF8.GetString(r.Value), r.Epoch, r.Offset)));
        var description = await cluster.Client.GetGrain<IPyralogAdminGrain>(0).DescribeLogAsync(log.Name);
        Assert.Equal(first + total, description.Partitions[0].CommittedNext);
    }

    /// <summary>What each replica of partition 0 says of itself and answers to a read at <paramref name="from"/>, for a failure's message.</summary>
    private static async Task<string> ReplicasAsync(IGrainFactory grains, LogInfo log, ulong from)
    {
        var said = new List<string>();
        foreach (var slot in log.ReplicaSlots(0))
        {
            var replica = grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, slot));
            try
            {
                var status = await replica.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(5));
                var read = await replica.ReadAsync(from, 1 << 20).WaitAsync(TimeSpan.FromSeconds(5));
                said.Add($"{status.Key} on {status.Silo}: {status.Role} in term {status.Term}, commit {status.CommitIndex}, applied {status.AppliedIndex}, next offset {status.NextOffset}; a read at {from} gave {read.Records.Length} records");
            }
            catch (Exception e)
            {
                said.Add($"{log.ReplicaKey(0, slot)}: {e.GetType().Name} {e.Message}");
            }
        }

        return string.Join(" | ", said);
    }

    private static ProducerRecord Rec(int value) => new(null, Encoding.UTF8.GetBytes($"r{value}"));
}
