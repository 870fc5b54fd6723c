using Pyralog.Client.Cluster;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>Counting replicas and leaders per silo and the balance verdict, from descriptions (no cluster).</summary>
public sealed class ClusterStatusTests
{
    private static readonly (string, string, string)[] ThreeActive = [("a:1@1", "s1", "Active"), ("b:1@1", "s2", "Active"), ("c:1@1", "s3", "Active")];

    /// <summary>A log whose partition p has its replicas on <paramref name="silos"/>[p] and its leader on the first of them (null: none).</summary>
    private static LogDescription Log(string name, params (string[] Replicas, string? Leader)[] partitions)
    {
        var info = new LogInfo(7, name, partitions.Length, partitions[0].Replicas.Length, new LogSettings(), LogState.Active);
        return new LogDescription(info, [.. partitions.Select((p, i) => new PartitionDescription(
            i, p.Leader is null ? -1 : Array.IndexOf(p.Replicas, p.Leader), p.Leader, 3, 0, 10,
            [.. p.Replicas.Select((silo, r) => new ReplicaDescription(r, info.ReplicaKey(i, r), silo, silo == p.Leader ? ReplicaRole.Leader : ReplicaRole.Follower, 10, 0, null))],
            false))]);
    }

    [Fact]
    public void Replicas_and_leaders_within_one_of_the_mean_are_balanced()
    {
        var status = ClusterStatus.Build(ThreeActive, [Log("x",
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "b:1@1"))]);

        Assert.Equal([("a:1@1", 3, 2), ("b:1@1", 3, 1), ("c:1@1", 3, 0)], status.Silos.Select(s => (s.Address, s.Replicas, s.Leaders)));
        Assert.True(status.Balanced);
        Assert.Equal("balanced", status.Verdict());
        Assert.Empty(status.Notes);
    }

    [Fact]
    public void Leaders_piled_on_one_silo_are_not_balanced_and_the_verdict_names_it()
    {
        var status = ClusterStatus.Build(ThreeActive, [Log("x",
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"))]);

        Assert.False(status.Balanced);
        Assert.Equal("not balanced (mean 3 replicas and 1 leaders per serving silo): a:1@1 hosts 3 replicas and leads 3", status.Verdict());
    }

    [Fact]
    public void A_silo_with_no_replicas_among_loaded_ones_is_not_balanced()
    {
        var status = ClusterStatus.Build([.. ThreeActive, ("d:1@1", "s4", "Active")], [Log("x",
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "b:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "c:1@1"))]);

        Assert.False(status.Balanced); // mean 2.25 replicas: d has 0
        Assert.Equal(0, status.Silos.Single(s => s.Address == "d:1@1").Replicas);
    }

    [Fact]
    public void Dead_silos_are_left_out_and_replicas_on_a_silo_the_table_does_not_know_are_counted_as_unknown()
    {
        var status = ClusterStatus.Build([("a:1@1", "s1", "Active"), ("old:1@1", "s0", "Dead")], [Log("x",
            (["a:1@1", "z:1@1"], "a:1@1"))]);

        Assert.Equal([("a:1@1", "Active", 1, 1), ("z:1@1", "Unknown", 1, 0)], status.Silos.Select(s => (s.Address, s.Status, s.Replicas, s.Leaders)));
        Assert.False(status.Balanced);
        Assert.Contains("z:1@1 is Unknown and hosts 1 replicas", status.Verdict(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_partition_without_a_leader_and_a_replica_that_did_not_answer_are_noted()
    {
        var log = Log("x", (["a:1@1", "b:1@1", "c:1@1"], null));
        var partition = log.Partitions[0];
        log = log with { Partitions = [partition with { Replicas = [partition.Replicas[0], partition.Replicas[1], partition.Replicas[2] with { Silo = "", Error = "timed out" }] }] };

        var status = ClusterStatus.Build(ThreeActive, [log], ["log y was not counted: gone"]);

        Assert.Equal([1, 1, 0], status.Silos.Select(s => s.Replicas));
        Assert.Equal(["log y was not counted: gone", "replica 7/0/2 of x/0 did not answer: timed out", "partition x/0 has no leader"], status.Notes);
    }

    [Fact]
    public void A_draining_silo_is_left_out_of_the_mean_and_is_balanced_only_once_it_holds_nothing()
    {
        (string, string, string)[] four = [.. ThreeActive, ("d:1@1", "s4", "Active")];
        var settled = Log("x",
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "b:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "c:1@1"));

        // Counted as serving, d's empty row would put the mean at 2.25 replicas and d off it by more than one.
        Assert.False(ClusterStatus.Build(four, [settled]).Balanced);

        var status = ClusterStatus.Build(four, [settled], draining: ["d:1@1"]);
        Assert.True(status.Balanced);
        Assert.Equal((3.0, 1.0), (status.MeanReplicas, status.MeanLeaders));
        Assert.Equal([false, false, false, true], status.Silos.Select(s => s.Draining));
        Assert.Equal("Active (draining)", status.Silos[3].DisplayStatus);

        var stillLeading = Log("x",
            (["a:1@1", "b:1@1", "d:1@1"], "d:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "b:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "c:1@1"));
        var draining = ClusterStatus.Build(four, [stillLeading], draining: ["d:1@1"]);
        Assert.False(draining.Balanced);
        Assert.Equal(
            "not balanced (mean 2.67 replicas and 0.67 leaders per serving silo): d:1@1 drains and hosts 1 replicas and leads 1",
            draining.Verdict());

        Assert.Equal("not balanced: every active silo drains", ClusterStatus.Build([("a:1@1", "s1", "Active")], [], draining: ["a:1@1"]).Verdict());
    }

    [Fact]
    public void No_active_silo_is_not_balanced()
    {
        var status = ClusterStatus.Build([("a:1@1", "s1", "ShuttingDown")], []);
        Assert.False(status.Balanced);
        Assert.Equal("not balanced: no silo is active", status.Verdict());
    }

    [Fact]
    public void The_metadata_groups_leader_counts_as_a_leadership_of_its_silo_and_its_replicas_do_not()
    {
        // Five silos, six partitions: leaders 2, 2, 1, 1, 0 are off the mean of 1.2 at the idle silo; with the metadata
        // group led there (as the leader balancer counts it) the seven leaderships are 2, 2, 1, 1, 1 around 1.4.
        (string, string, string)[] five = [.. ThreeActive, ("d:1@1", "s4", "Active"), ("e:1@1", "s5", "Active")];
        var log = Log("x",
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"),
            (["a:1@1", "b:1@1", "d:1@1"], "a:1@1"),
            (["b:1@1", "c:1@1", "e:1@1"], "b:1@1"),
            (["b:1@1", "d:1@1", "e:1@1"], "b:1@1"),
            (["a:1@1", "c:1@1", "e:1@1"], "c:1@1"),
            (["c:1@1", "d:1@1", "e:1@1"], "d:1@1"));
        var metadata = new PartitionDescription(0, 2, "e:1@1", 1, 0, 0,
            [.. "ade".Select((silo, r) => new ReplicaDescription(r, $"0/0/{r}", $"{silo}:1@1", r == 2 ? ReplicaRole.Leader : ReplicaRole.Follower, 0, 0, null))],
            false);

        var partitionsOnly = ClusterStatus.Build(five, [log]);
        Assert.False(partitionsOnly.Balanced);
        Assert.Equal("not balanced (mean 3.6 replicas and 1.2 leaders per serving silo): e:1@1 hosts 4 replicas and leads 0", partitionsOnly.Verdict());

        var status = ClusterStatus.Build(five, [log], metadataGroup: metadata);
        Assert.Equal([("a:1@1", 3, 2), ("b:1@1", 4, 2), ("c:1@1", 4, 1), ("d:1@1", 3, 1), ("e:1@1", 4, 1)], status.Silos.Select(s => (s.Address, s.Replicas, s.Leaders)));
        Assert.Equal(1.4, status.MeanLeaders, 9);
        Assert.True(status.Balanced);
    }

    [Fact]
    public void A_silo_shutting_down_that_still_leads_the_metadata_group_is_named_with_its_leadership()
    {
        (string, string, string)[] silos = [("a:1@1", "s1", "Active"), ("b:1@1", "s2", "Active"), ("c:1@1", "s3", "ShuttingDown")];
        var log = Log("x", (["a:1@1", "b:1@1"], "a:1@1"), (["a:1@1", "b:1@1"], "b:1@1"));
        var metadata = new PartitionDescription(0, 2, "c:1@1", 1, 0, 0,
            [.. "abc".Select((silo, r) => new ReplicaDescription(r, $"0/0/{r}", $"{silo}:1@1", r == 2 ? ReplicaRole.Leader : ReplicaRole.Follower, 0, 0, null))],
            false);

        var status = ClusterStatus.Build(silos, [log], metadataGroup: metadata);

        Assert.False(status.Balanced);
        Assert.Equal("not balanced (mean 2 replicas and 1 leaders per serving silo): c:1@1 is ShuttingDown and hosts 0 replicas and leads 1", status.Verdict());
    }

    [Fact]
    public void A_silo_that_did_not_say_whether_it_drains_is_noted_and_left_out_of_the_balance()
    {
        (string, string, string)[] four = [.. ThreeActive, ("d:1@1", "s4", "Active")];
        var log = Log("x",
            (["a:1@1", "b:1@1", "c:1@1"], "a:1@1"),
            (["a:1@1", "b:1@1", "c:1@1"], "b:1@1"),
            (["a:1@1", "b:1@1", "d:1@1"], "a:1@1"));

        // Counted as serving, d (1 replica against a mean of 2.25) would make the cluster unbalanced without a word.
        Assert.False(ClusterStatus.Build(four, [log]).Balanced);

        var status = ClusterStatus.Build(four, [log], drainingUnknown: ["d:1@1"]);
        Assert.True(status.Balanced);
        Assert.Equal((8 / 3.0, 1.0), (status.MeanReplicas, status.MeanLeaders));
        Assert.Equal([false, false, false, true], status.Silos.Select(s => s.DrainingUnknown));
        Assert.Equal(["could not tell whether d:1@1 drains (it did not answer in time): left out of the balance"], status.Notes);

        var lone = ClusterStatus.Build([("a:1@1", "s1", "Active")], [], drainingUnknown: ["a:1@1"]);
        Assert.Equal("not balanced: no active silo is known to serve (see the notes)", lone.Verdict());
    }

    [Fact]
    public async Task The_status_notes_the_silos_the_admin_could_not_ask_whether_they_drain()
    {
        var admin = new ScriptedAdminGrain(ReaderMetadata(leader: 0)) { Draining = ["10.0.0.1:11111@1"], Unanswered = ["10.0.0.2:11111@1"] };

        var status = await ClusterStatusReader.ReadAsync(new StatusGrainFactory(ReaderHosts(), admin));

        Assert.Equal(
            [("10.0.0.1:11111@1", true, false), ("10.0.0.2:11111@1", false, true), ("10.0.0.3:11111@1", false, false)],
            status.Silos.Select(s => (s.Address, s.Draining, s.DrainingUnknown)));
        Assert.Equal(["could not tell whether 10.0.0.2:11111@1 drains (it did not answer in time): left out of the balance"], status.Notes);
    }

    [Fact]
    public async Task A_silo_of_an_earlier_build_gives_the_draining_silos_it_knows()
    {
        var admin = new ScriptedAdminGrain(ReaderMetadata(leader: 0)) { Draining = ["10.0.0.1:11111@1"], Unanswered = ["10.0.0.2:11111@1"], EarlierBuild = true };

        var status = await ClusterStatusReader.ReadAsync(new StatusGrainFactory(ReaderHosts(), admin));

        Assert.Equal(
            [("10.0.0.1:11111@1", true, false), ("10.0.0.2:11111@1", false, false), ("10.0.0.3:11111@1", false, false)],
            status.Silos.Select(s => (s.Address, s.Draining, s.DrainingUnknown)));
        Assert.Empty(status.Notes);
    }

    [Fact]
    public void A_whole_metadata_group_adds_no_note()
    {
        Assert.Empty(ClusterStatus.MetadataNotes(Metadata(0, ReplicaRole.Leader, ReplicaRole.Follower, ReplicaRole.Follower)));
    }

    [Fact]
    public void A_leaderless_metadata_group_a_silent_replica_and_a_learner_are_each_named()
    {
        var group = Metadata(-1, ReplicaRole.Follower, ReplicaRole.Learner, ReplicaRole.None);

        Assert.Equal(
            [
                "the metadata group has no leader: logs cannot be created, described or deleted until it elects one",
                "metadata replica 0/0/1 is a learner catching up on b:1@1: the group survives no further failure until it votes",
                "metadata replica 0/0/2 did not answer: timed out",
            ],
            ClusterStatus.MetadataNotes(group));
    }

    [Fact]
    public async Task A_metadata_group_without_a_leader_still_lists_the_silos_and_says_so()
    {
        // The admin grain's ListLogsAsync needs the metadata leader and throws once it gave up waiting for one.
        var admin = new ScriptedAdminGrain(ReaderMetadata(leader: -1))
        {
            Logs = () => throw new TimeoutException("the metadata group elected no leader within 20 s"),
            Draining = ["10.0.0.2:11111@1"],
        };

        var status = await ClusterStatusReader.ReadAsync(new StatusGrainFactory(ReaderHosts(), admin));

        Assert.Equal(
            [("10.0.0.1:11111@1", "s1", "Active", false), ("10.0.0.2:11111@1", "s2", "Active", true), ("10.0.0.3:11111@1", "s3", "ShuttingDown", false)],
            status.Silos.Select(s => (s.Address, s.Name, s.Status, s.Draining)));
        Assert.Equal(["the metadata group has no leader: logs cannot be created, described or deleted until it elects one"], status.Notes);
    }

    [Fact]
    public async Task Logs_that_cannot_be_listed_are_noted_and_the_rest_of_the_status_stands()
    {
        var admin = new ScriptedAdminGrain(ReaderMetadata(leader: 0))
        {
            Logs = () => throw new TimeoutException("the metadata group elected no leader within 20 s"),
        };

        var status = await ClusterStatusReader.ReadAsync(new StatusGrainFactory(ReaderHosts(), admin));

        Assert.Equal([("10.0.0.1:11111@1", 0, 1), ("10.0.0.2:11111@1", 0, 0), ("10.0.0.3:11111@1", 0, 0)], status.Silos.Select(s => (s.Address, s.Replicas, s.Leaders)));
        Assert.Equal(["logs not counted: the metadata group elected no leader within 20 s"], status.Notes);
    }

    [Fact]
    public async Task A_log_whose_describe_times_out_is_left_out_and_named()
    {
        const string a = "10.0.0.1:11111@1", b = "10.0.0.2:11111@1", c = "10.0.0.3:11111@1";
        var counted = Log("x", ([a, b, c], b));
        var admin = new ScriptedAdminGrain(ReaderMetadata(leader: 0))
        {
            Logs = () => [counted.Log, counted.Log with { Id = 8, Name = "y" }],
            Describe = name => name == "x" ? counted : throw new TimeoutException("the leader of y/0 did not answer\nat ..."),
        };

        var status = await ClusterStatusReader.ReadAsync(new StatusGrainFactory(ReaderHosts(), admin));

        Assert.Equal([(a, 1, 1), (b, 1, 1), (c, 1, 0)], status.Silos.Select(s => (s.Address, s.Replicas, s.Leaders)));
        Assert.Equal(["log y was not counted: the leader of y/0 did not answer"], status.Notes);
    }

    private static IManagementGrain ReaderHosts() => HostsOnlyManagementGrain.Create(
        ("10.0.0.1:11111@1", "s1", SiloStatus.Active), ("10.0.0.2:11111@1", "s2", SiloStatus.Active), ("10.0.0.3:11111@1", "s3", SiloStatus.ShuttingDown));

    /// <summary>The metadata group with its three replicas voting on 10.0.0.1, .2 and .3, led by replica <paramref name="leader"/> (−1: none).</summary>
    private static PartitionDescription ReaderMetadata(int leader) =>
        new(0, leader, leader < 0 ? null : $"10.0.0.{leader + 1}:11111@1", 1, 0, 0,
            [.. Enumerable.Range(0, 3).Select(r => new ReplicaDescription(
                r, $"0/0/{r}", $"10.0.0.{r + 1}:11111@1", r == leader ? ReplicaRole.Leader : ReplicaRole.Follower, 0, 0, null))],
            false);

    /// <summary>The metadata group's description with replica r on silo "a", "b", "c" in the given role (None: no answer).</summary>
    private static PartitionDescription Metadata(int leader, params ReplicaRole[] roles) =>
        new(0, leader, leader < 0 ? null : "a:1@1", 1, 0, 0,
            [.. roles.Select((role, r) => role == ReplicaRole.None
                ? new ReplicaDescription(r, $"0/0/{r}", "", role, 0, 0, "timed out")
                : new ReplicaDescription(r, $"0/0/{r}", $"{(char)('a' + r)}:1@1", role, 0, 0, null))],
            false);
}
