using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Two activations of one replica at once, as Orleans may run them for a moment on two silos: replica 2 of a 3-replica
/// group runs as its founding incarnation (with its data) and as a fresh incarnation on another silo (without), and the
/// messages for replica 2 reach either one at random — while appends run, messages are reordered and the leader is
/// replaced. Checked after every step: never two leaders in one term. At the end: every acknowledged append is in every
/// member's log at its acknowledged (epoch, offset), exactly once, offsets dense. Drivers run on real stores, their
/// turns one at a time on a <see cref="TurnContext"/>; the schedule is seeded.
/// </summary>
public sealed class DuplicateActivationTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"pyralog-duplicates-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Two_activations_of_one_replica_never_make_two_leaders_in_a_term_or_lose_an_acknowledged_append(int seed)
    {
        var random = new Random(seed);
        var turns = new TurnContext();
        var network = new List<(int To, RaftEnvelope Envelope)>();
        var replicas = new List<SimulatedActivation>();
        for (var silo = 0; silo < 4; silo++)
        {
            replicas.Add(await SimulatedActivation.OpenAsync(Path.Combine(_root, $"silo{silo}"), slot: Math.Min(silo, 2), incarnation: 100 + silo, network));
        }

        var founding = new ClusterConfig([new Member(1, 100), new Member(2, 101), new Member(3, 102)], []);
        foreach (var r in replicas.Take(3))
        {
            await r.Storage.BootstrapAsync(founding, default);
        }

        foreach (var r in replicas)
        {
            await r.StartAsync();
        }

        var leaders = new Dictionary<long, (long Id, long Incarnation)>();
        var acked = new List<(string Value, AppendAck Ack)>();
        var appends = new List<(string Value, Task<object?> Done)>();
        var duplicate = replicas[3];
        for (var step = 0; step < 4000; step++)
        {
            var duplicatesLive = step < 3000;
            var roll = random.Next(100);
            if (roll < 55 && network.Count > 0)
            {
                var pick = random.Next(Math.Min(network.Count, 4)); // mostly in order, sometimes reordered
                var (to, envelope) = network[pick];
                network.RemoveAt(pick);
                var target = to == 2 && duplicatesLive && random.Next(2) == 0 ? duplicate : replicas[to];
                turns.Run(() => target.Driver.Deliver(envelope));
            }
            else if (roll < 85)
            {
                var r = replicas[random.Next(duplicatesLive ? 4 : 3)];
                turns.Run(() => r.Driver.Tick());
            }
            else if (roll < 95 && replicas.FirstOrDefault(r => r.Driver.Node.Role == RaftRole.Leader) is { } leader)
            {
                var value = $"s{seed}-{step}";
                turns.Run(() =>
                {
                    try
                    {
                        appends.Add((value, leader.Driver.ProposeAsync(RecordBatchCodec.Encode([new ProducerRecord(null, Encoding.UTF8.GetBytes(value))], 1024), "k", s => $"{s}")));
                    }
                    catch (NotLeaderException)
                    {
                    }
                });
            }
            else if (roll >= 95 && replicas.FirstOrDefault(r => r.Driver.Node.Role == RaftRole.Leader) is { } current && random.Next(10) == 0)
            {
                var to = random.Next(1, 4);
                turns.Run(() => current.Driver.Node.TransferLeadership(to));
                turns.Run(() => current.Driver.Pump());
            }

            turns.RunPending();
            if (random.Next(20) == 0)
            {
                await Task.Delay(1); // let store writes complete now and then
                turns.RunPending();
            }

            foreach (var r in replicas)
            {
                var node = r.Driver.Node;
                if (node.Role == RaftRole.Leader)
                {
                    var who = (node.Id, node.Incarnation);
                    Assert.True(!leaders.TryGetValue(node.Term, out var other) || other == who,
                        $"two leaders in term {node.Term}: {other.Id}@{other.Incarnation} and {who.Id}@{who.Incarnation} (step {step})");
                    leaders[node.Term] = who;
                }
            }
        }

        // Settle: deliver everything, tick, let the stores finish, until every append has an outcome and every voter has
        // applied all the leader committed.
        bool Settled()
        {
            var leader = replicas.FirstOrDefault(r => r.Driver.Node.Role == RaftRole.Leader)?.Driver.Node;
            return network.Count == 0 && appends.All(a => a.Done.IsCompleted) && leader is not null &&
                   Voters(leader).All(r => r.Driver.Node.AppliedIndex == leader.CommitIndex);
        }

        IEnumerable<SimulatedActivation> Voters(RaftNode leader) => replicas.Where(r => leader.Config.IsVoter(ReplicaDriver.RaftId(r.Slot), r.Incarnation));

        // A former leader answers its proposals as it applies their indices; those beyond the end of the log that replaced
        // its own (its entries were truncated) wait for the log to grow past them, as they would for the next appends in
        // a real partition (or time out as "outcome unknown"): the settle phase appends a marker now and then.
        var settleBy = DateTime.UtcNow + TimeSpan.FromSeconds(30); // store writes take longer on a loaded machine
        var markerRefused = "none";
        for (var round = 0; !Settled() && DateTime.UtcNow < settleBy; round++)
        {
            if (round % 20 == 19 && appends.Any(a => !a.Done.IsCompleted) &&
                replicas.Take(3).FirstOrDefault(r => r.Driver.Node.Role == RaftRole.Leader) is { } marking)
            {
                var value = $"s{seed}-settle{round}";
                turns.Run(() =>
                {
                    try
                    {
                        appends.Add((value, marking.Driver.ProposeAsync(RecordBatchCodec.Encode([new ProducerRecord(null, Encoding.UTF8.GetBytes(value))], 1024), "k", s => $"{s}")));
                    }
                    catch (NotLeaderException e)
                    {
                        markerRefused = e.Message;
                    }
                });
            }

            while (network.Count > 0)
            {
                var (to, envelope) = network[0];
                network.RemoveAt(0);
                turns.Run(() => replicas[to].Driver.Deliver(envelope));
                turns.RunPending();
            }

            foreach (var r in replicas.Take(3)) // the duplicate activation is gone, as Orleans ends one of two
            {
                turns.Run(() => r.Driver.Tick());
            }

            await Task.Delay(1);
            turns.RunPending();
        }

        foreach (var (value, done) in appends)
        {
            if (done.IsCompletedSuccessfully)
            {
                acked.Add((value, (AppendAck)(await done)!));
            }
        }

        Assert.True(Settled(), "the group did not settle: " + string.Join("; ", replicas.Select(r =>
            $"{r.Slot}@{r.Incarnation} {r.Driver.Node.Role} t{r.Driver.Node.Term} c{r.Driver.Node.CommitIndex} a{r.Driver.Node.AppliedIndex} l{r.Driver.Node.LastIndex} {r.Driver.Node.Config} " +
            $"proposals pending {r.Driver.PendingProposals} {r.Driver.Node.DescribeReplication()}"))
            + $"; network {network.Count}, appends pending {appends.Count(a => !a.Done.IsCompleted)}, last marker refused: {markerRefused}");
        Assert.True(acked.Count > 20, $"only {acked.Count} of {appends.Count} appends were acknowledged");
        var final = replicas.Single(r => r.Driver.Node.Role == RaftRole.Leader).Driver.Node;
        output.WriteLine($"seed {seed}: {acked.Count} of {appends.Count} appends acknowledged, {leaders.Count} terms with a leader, " +
            $"duplicate led {leaders.Values.Count(l => l.Incarnation == duplicate.Incarnation)} terms, configuration {final.Config}");
        foreach (var r in Voters(final))
        {
            var records = r.ReadAll();
            var seen = new HashSet<string>();
            for (var i = 0; i < records.Count; i++)
            {
                Assert.Equal((ulong)i, records[i].Offset);
                Assert.True(seen.Add(Encoding.UTF8.GetString(records[i].Value)), "a record appears twice");
            }

            foreach (var (value, ack) in acked)
            {
                var at = (int)ack.FirstOffset;
                Assert.True(at < records.Count && Encoding.UTF8.GetString(records[at].Value) == value && records[at].Epoch == ack.Epoch,
                    $"replica {r.Slot}@{r.Incarnation}: acknowledged '{value}' at ({ack.Epoch}, {ack.FirstOffset}) is not there");
            }
        }

        foreach (var r in replicas)
        {
            await r.DisposeAsync();
        }
    }
}
