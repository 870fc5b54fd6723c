using System.Text;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;
using Xunit.Abstractions;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// Three silo processes balancing leaders every second. A silo is killed and restarted: it comes back leading nothing,
/// and while a producer streams records to every partition the other silos hand leaderships back until
/// <c>pyralog cluster status</c> says balanced with the restarted silo leading its share. The producer sees no failed
/// record, and every partition holds every acknowledged record once, in order, at its acknowledged offset.
/// </summary>
[Trait("Category", "Slow")]
public sealed class LeaderBalancingProcessTests : IDisposable
{
    private const int Partitions = 6;
    private readonly ITestOutputHelper _output;
    private readonly string _root = Directory.CreateTempSubdirectory("pyralog-balance-").FullName;

    public LeaderBalancingProcessTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_restarted_silo_gets_its_share_of_leaders_back_while_producers_see_no_failure()
    {
        await using var cluster = await PartitionCluster.StartAsync(
            _root, preferRedis: true, _output.WriteLine, "--Pyralog:Replication:LeaderBalanceInterval", "00:00:01");
        await cluster.CreateLogAsync("balance", Partitions, 3, null, TimeSpan.FromMinutes(2));
        await cluster.WaitForLeadersAsync("balance", allReplicas: true, TimeSpan.FromSeconds(60));

        var silo = Enumerable.Range(0, PartitionCluster.Size).Last(cluster.CanKill);
        cluster.Kill(silo);
        await cluster.WaitForLeadersAsync("balance", allReplicas: false, TimeSpan.FromSeconds(60));
        await cluster.RestartAsync(silo, wipeData: false);

        // Stream to every partition until the cluster is balanced with the restarted silo leading.
        await using var producer = cluster.Client.CreateProducer(new ProducerOptions { Linger = TimeSpan.FromMilliseconds(1) });
        var acks = Enumerable.Range(0, Partitions).Select(_ => new List<(string Value, RecordAck Ack)>()).ToArray();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        var balancedAt = -1;
        for (var round = 0; balancedAt < 0 || round < balancedAt + 20; round++)
        {
            Assert.True(DateTime.UtcNow < deadline, $"not balanced within 120 s: {(await cluster.Client.GetClusterStatusAsync()).Verdict()}");
            var sends = new Task<RecordAck>[Partitions];
            for (var p = 0; p < Partitions; p++)
            {
                sends[p] = producer.ProduceAsync("balance", p, new ProducerRecord(null, Encoding.UTF8.GetBytes($"r{round}p{p}")));
            }

            for (var p = 0; p < Partitions; p++)
            {
                acks[p].Add(($"r{round}p{p}", await sends[p])); // a ProduceException here is a record the producer saw fail
            }

            if (balancedAt < 0 && round % 10 == 0)
            {
                var status = await cluster.Client.GetClusterStatusAsync();
                var restarted = status.Silos.SingleOrDefault(s => cluster.SiloOf(s.Address) == silo && s.IsActive);
                if (status.Balanced && restarted is { Leaders: > 0 })
                {
                    _output.WriteLine($"balanced after {round} rounds: {string.Join(", ", status.Silos.Select(s => $"{s.Address} leads {s.Leaders}"))}");
                    balancedAt = round;
                }
            }
        }

        Assert.Contains("Handed the leadership of", string.Concat(Enumerable.Range(0, PartitionCluster.Size).Where(cluster.IsRunning).Select(s => cluster.OutputTail(s, 5000))), StringComparison.Ordinal);

        // Every acknowledged record once, in order, at its acknowledged address.
        var consumer = cluster.Client.CreateConsumer();
        for (var p = 0; p < Partitions; p++)
        {
            var first = acks[p][0].Ack.Offset;
            Assert.Equal(Enumerable.Range(0, acks[p].Count).Select(i => first + (ulong)i), acks[p].Select(a => a.Ack.Offset));
            using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var records = new List<(string Value, ulong Epoch, ulong Offset)>();
            await foreach (var record in consumer.ConsumeAsync("balance", p, ConsumeFrom.Offset(first), budget.Token))
            {
                records.Add((Encoding.UTF8.GetString(record.Value), record.Epoch, record.Offset));
                if (records.Count == acks[p].Count)
                {
                    break;
                }
            }

            Assert.Equal(acks[p].Select(a => (a.Value, a.Ack.Epoch, a.Ack.Offset)), records);
        }
    }
}
