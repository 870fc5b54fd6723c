using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;
using Xunit.Abstractions;

namespace Pyralog.Silo.Tests.Partitions;

/// <summary>
/// Three silo processes; a producer streams records to a partition while the silo of its leader gets SIGTERM. The silo
/// hands the leadership of its replicas to siblings on other silos before it exits (it says so in its log), the producer
/// sees no failed record, and the partition holds every acknowledged record once, in order, at its acknowledged offset.
/// Uses Redis membership when redis-server is installed; otherwise development membership, whose primary is not stopped.
/// </summary>
[Trait("Category", "Slow")]
public sealed class GracefulStopProcessTests : IDisposable
{
    private const int Before = 2000;
    private const int After = 2000;
    private readonly ITestOutputHelper _output;
    private readonly string _root = Directory.CreateTempSubdirectory("pyralog-drain-").FullName;

    public GracefulStopProcessTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_leader_silo_stopped_with_SIGTERM_hands_off_first_and_the_producer_loses_nothing()
    {
        await using var cluster = await PartitionCluster.StartAsync(_root, preferRedis: true, _output.WriteLine);

        // A partition whose leader runs on a silo that may be stopped.
        string name = "";
        PartitionDescription? target = null;
        for (var attempt = 0; target is null; attempt++)
        {
            Assert.True(attempt < 5, "every partition's leader ran on development membership's primary");
            name = $"drain{attempt}";
            await cluster.CreateLogAsync(name, 3, 3, null, TimeSpan.FromMinutes(2));
            var description = await cluster.WaitForLeadersAsync(name, allReplicas: true, TimeSpan.FromSeconds(60));
            target = description.Partitions.FirstOrDefault(p => cluster.SiloOf(p.LeaderSilo) is { } s && cluster.CanKill(s));
        }

        var silo = cluster.SiloOf(target.LeaderSilo)!.Value;
        var pid = cluster.ProcessIds[silo];
        await using var producer = cluster.Client.CreateProducer(new ProducerOptions { Linger = TimeSpan.FromMilliseconds(1) });
        var acks = new List<RecordAck>();
        var window = new Queue<Task<RecordAck>>();
        Task? stopped = null;
        for (var i = 0; i < Before + After; i++)
        {
            if (i == Before)
            {
                Assert.Equal(0, Kill(pid, 15)); // SIGTERM: a graceful stop
                stopped = Process.GetProcessById(pid).WaitForExitAsync();
            }

            window.Enqueue(producer.ProduceAsync(name, target.Partition, new ProducerRecord(null, Encoding.UTF8.GetBytes($"v{i}"))));
            if (window.Count >= 100)
            {
                acks.Add(await window.Dequeue()); // a ProduceException here is a record the producer saw fail
            }
        }

        while (window.Count > 0)
        {
            acks.Add(await window.Dequeue());
        }

        await stopped!.WaitAsync(TimeSpan.FromSeconds(60));
        var output = cluster.OutputTail(silo, 2000);
        _output.WriteLine(string.Join('\n', output.Split('\n').Where(l => l.Contains("stopping", StringComparison.Ordinal))));
        Assert.Contains("Silo stopping: handed off the leadership of", output, StringComparison.Ordinal);
        Assert.DoesNotContain("could not hand off", output, StringComparison.Ordinal);
        Assert.True(acks[^1].Epoch > acks[0].Epoch, "the records after the stop were appended by a new leader");

        // Every acknowledged record once, in order, at its acknowledged address.
        var first = acks[0].Offset;
        Assert.Equal(Enumerable.Range(0, Before + After).Select(i => first + (ulong)i), acks.Select(a => a.Offset));
        var consumer = cluster.Client.CreateConsumer();
        using var budget = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var records = new List<(string Value, ulong Epoch, ulong Offset)>();
        await foreach (var record in consumer.ConsumeAsync(name, target.Partition, ConsumeFrom.Offset(first), budget.Token))
        {
            records.Add((Encoding.UTF8.GetString(record.Value), record.Epoch, record.Offset));
            if (records.Count == Before + After)
            {
                break;
            }
        }

        Assert.Equal(
            acks.Select((a, i) => ($"v{i}", a.Epoch, a.Offset)),
            records);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
