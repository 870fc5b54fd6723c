using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Silo.Http;

namespace Pyralog.Silo.Tests.Http;

/// <summary>
/// The silos Pyralog's page lists, with the partition replicas and leaders each runs; the logs it lists, each described
/// apart so one that fails or does not answer is shown with its error and the others with their partitions.
/// </summary>
public sealed class ClusterOverviewTests
{
    private static readonly IPEndPoint First = new(IPAddress.Loopback, 11111);
    private static readonly IPEndPoint Second = new(IPAddress.Loopback, 11112);

    [Fact]
    public void A_silo_restarted_on_its_endpoint_counts_its_replicas_and_its_dead_predecessor_none()
    {
        var dead = SiloAddress.New(First, 100);
        var restarted = SiloAddress.New(First, 200);
        var other = SiloAddress.New(Second, 150);
        var hosts = new Dictionary<SiloAddress, SiloStatus> { [dead] = SiloStatus.Dead, [restarted] = SiloStatus.Active, [other] = SiloStatus.Active };
        PartitionDescription[] partitions =
        [
            Partition(0, (restarted, ReplicaRole.Leader), (other, ReplicaRole.Follower)),
            Partition(1, (restarted, ReplicaRole.Follower), (other, ReplicaRole.Leader)),
            Partition(2, (restarted, ReplicaRole.Leader), (other, ReplicaRole.Learner)),
        ];

        var silos = ClusterOverview.Silos(hosts, restarted, partitions);

        Assert.Equal(
            [
                new SiloOverview(dead.ToParsableString(), "127.0.0.1:11111", "Dead", false, 0, 0),
                new SiloOverview(restarted.ToParsableString(), "127.0.0.1:11111", "Active", true, 3, 2),
                new SiloOverview(other.ToParsableString(), "127.0.0.1:11112", "Active", false, 3, 1),
            ],
            silos);
    }

    [Fact]
    public void A_replica_that_did_not_answer_counts_for_no_silo()
    {
        var silo = SiloAddress.New(First, 100);
        var hosts = new Dictionary<SiloAddress, SiloStatus> { [silo] = SiloStatus.Active };
        var partition = new PartitionDescription(
            0, 0, silo.ToParsableString(), 1, 0, 0,
            [
                new ReplicaDescription(0, "r0", silo.ToParsableString(), ReplicaRole.Leader, 0, 0, null),
                new ReplicaDescription(1, "r1", "", ReplicaRole.None, 0, 0, "Response did not arrive on time"),
            ],
            SharedSilos: false);

        Assert.Equal([new SiloOverview(silo.ToParsableString(), "127.0.0.1:11111", "Active", true, 1, 1)], ClusterOverview.Silos(hosts, silo, [partition]));
    }

    [Fact]
    public async Task A_log_whose_description_fails_is_listed_with_its_error_and_the_others_with_their_partitions()
    {
        var silo = SiloAddress.New(First, 100);
        var (admin, script) = ScriptedAdminGrain.Create(() => Task.FromResult<LogInfo[]>([Log(1, "clicks"), Log(2, "views"), Log(3, "orders")]));
        script.Describe("clicks", () => Task.FromResult(new LogDescription(Log(1, "clicks"), [Partition(0, (silo, ReplicaRole.Leader))])))
            .Describe("views", () => Task.FromException<LogDescription>(new TimeoutException("Response did not arrive on time")))
            .Describe("orders", () => Task.FromException<LogDescription>(new OrleansException("the metadata group is electing")));

        var (logs, partitions) = await ClusterOverview.DescribeLogsAsync(admin, new FakeTimeProvider(), CancellationToken.None);

        var json = JsonSerializer.SerializeToElement(logs, JsonSerializerOptions.Web);
        Assert.Equal(["clicks", "views", "orders"], json.EnumerateArray().Select(l => l.GetProperty("name").GetString()));
        Assert.Equal([0], json[0].GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("partition").GetInt32()));
        Assert.False(json[0].TryGetProperty("error", out _));
        Assert.Equal(
            """{"name":"views","id":2,"state":"Active","error":"Response did not arrive on time","partitions":[]}""",
            json[1].GetRawText());
        Assert.Equal(
            """{"name":"orders","id":3,"state":"Active","error":"the metadata group is electing","partitions":[]}""",
            json[2].GetRawText());
        Assert.Equal([0], partitions.Select(p => p.Partition));
    }

    [Fact]
    public async Task Logs_that_never_answer_do_not_hold_the_others_back_past_one_deadline()
    {
        var silo = SiloAddress.New(First, 100);
        var time = new FakeTimeProvider();
        var (admin, script) = ScriptedAdminGrain.Create(() => Task.FromResult<LogInfo[]>([Log(1, "stuck"), Log(2, "hung"), Log(3, "clicks")]));
        script.Describe("stuck", () => new TaskCompletionSource<LogDescription>().Task)
            .Describe("hung", () => new TaskCompletionSource<LogDescription>().Task)
            .Describe("clicks", () => Task.FromResult(new LogDescription(Log(3, "clicks"), [Partition(0, (silo, ReplicaRole.Leader))])));

        var describing = ClusterOverview.DescribeLogsAsync(admin, time, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.False(describing.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1)); // one deadline for all: 5 s, not 5 s per log that does not answer
        var (logs, _) = await describing.WaitAsync(TimeSpan.FromSeconds(30)); // real time only if it never completes

        var json = JsonSerializer.SerializeToElement(logs, JsonSerializerOptions.Web);
        Assert.Equal(
            [("stuck", "The operation has timed out.", 0), ("hung", "The operation has timed out.", 0), ("clicks", null, 1)],
            json.EnumerateArray().Select(l => (
                l.GetProperty("name").GetString(),
                l.TryGetProperty("error", out var e) ? e.GetString() : null,
                l.GetProperty("partitions").GetArrayLength())));
    }

    [Fact]
    public async Task A_partition_without_a_leader_sends_no_committed_offset()
    {
        var silo = SiloAddress.New(First, 100);
        var leaderless = new PartitionDescription(
            1, -1, null, 0, 0, 0, [new ReplicaDescription(0, "r0", silo.ToParsableString(), ReplicaRole.Candidate, 40, 0, null)], SharedSilos: false);
        var led = Partition(0, (silo, ReplicaRole.Leader)) with { CommittedNext = 42 };
        var (admin, script) = ScriptedAdminGrain.Create(() => Task.FromResult<LogInfo[]>([Log(1, "clicks")]));
        script.Describe("clicks", () => Task.FromResult(new LogDescription(Log(1, "clicks"), [led, leaderless])));

        var (logs, _) = await ClusterOverview.DescribeLogsAsync(admin, new FakeTimeProvider(), CancellationToken.None);

        var json = JsonSerializer.SerializeToElement(logs, JsonSerializerOptions.Web);
        Assert.Equal(
            ["42", "null"],
            json[0].GetProperty("partitions").EnumerateArray().Select(p => p.GetProperty("committedNext").GetRawText()));
    }

    private static LogInfo Log(ulong id, string name) => new(id, name, Partitions: 1, ReplicationFactor: 1, new LogSettings(), LogState.Active);

    private static PartitionDescription Partition(int partition, params (SiloAddress Silo, ReplicaRole Role)[] replicas) =>
        new(
            partition,
            Array.FindIndex(replicas, r => r.Role == ReplicaRole.Leader),
            replicas.FirstOrDefault(r => r.Role == ReplicaRole.Leader).Silo?.ToParsableString(),
            Epoch: 1,
            FirstOffset: 0,
            CommittedNext: 0,
            [.. replicas.Select((r, i) => new ReplicaDescription(i, $"{partition}/{i}", r.Silo.ToParsableString(), r.Role, 0, 0, null))],
            SharedSilos: false);
}
