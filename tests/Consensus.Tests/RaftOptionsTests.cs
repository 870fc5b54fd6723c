namespace Pyralog.Consensus.Tests;

public sealed class RaftOptionsTests
{
    [Fact]
    public void The_defaults_with_a_non_zero_id_are_valid() => Options(id: 1).Validate();

    [Theory]
    [InlineData(1, 2)]
    [InlineData(9, 10)]
    public void Heartbeats_may_come_up_to_one_tick_before_an_election(int heartbeat, int election) =>
        Options(heartbeatTicks: heartbeat, electionTicks: election).Validate();

    [Fact]
    public void A_heartbeat_below_one_tick_is_refused_naming_it_and_its_value()
    {
        var e = Assert.Throws<ArgumentException>(Options(heartbeatTicks: 0).Validate);
        Assert.Equal("HeartbeatTicks", e.ParamName);
        Assert.Equal("RaftOptions.HeartbeatTicks must be at least 1 (was 0). (Parameter 'HeartbeatTicks')", e.Message);
    }

    [Theory]
    [InlineData(10, 10)]
    [InlineData(10, 3)]
    public void An_election_timeout_not_beyond_the_heartbeat_is_refused(int heartbeat, int election)
    {
        var e = Assert.Throws<ArgumentException>(Options(heartbeatTicks: heartbeat, electionTicks: election).Validate);
        Assert.Equal("ElectionTicks", e.ParamName);
        Assert.StartsWith($"RaftOptions.ElectionTicks must be more than HeartbeatTicks ({heartbeat}) (was {election}).", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Id_zero_is_reserved_and_refused_also_by_the_node()
    {
        var e = Assert.Throws<ArgumentException>(() => new RaftNode(Options(id: 0)));
        Assert.Equal("Id", e.ParamName);
        Assert.StartsWith("RaftOptions.Id must not be 0, which is reserved for 'none' (was 0).", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Incarnation_zero_means_not_recorded_and_is_refused_also_by_the_node()
    {
        // Storage written by incarnation 0 would record 0, "not recorded", and then be taken by any other incarnation.
        var e = Assert.Throws<ArgumentException>(() => new RaftNode(new RaftOptions
        {
            Id = 1, Incarnation = 0, Storage = new MemoryRaftStorage(), Random = new SeededRaftRandom(1),
        }));
        Assert.Equal("Incarnation", e.ParamName);
        Assert.StartsWith("RaftOptions.Incarnation must not be 0, which the hard state reserves for 'not recorded' (was 0).", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    public void A_negative_incarnation_is_valid(long incarnation)
    {
        // Hosts cast unsigned 64-bit IDs (Scarab IDs) to long: from 2059 on they are negative.
        new RaftOptions { Id = 1, Incarnation = incarnation, Storage = new MemoryRaftStorage(), Random = new SeededRaftRandom(1) }.Validate();
    }

    [Theory]
    [InlineData(nameof(RaftOptions.MaxInflightMessages), 0)]
    [InlineData(nameof(RaftOptions.MaxInflightMessages), -1)]
    [InlineData(nameof(RaftOptions.MaxInflightBytes), 0)]
    [InlineData(nameof(RaftOptions.MaxUncommittedEntries), 0)]
    [InlineData(nameof(RaftOptions.MaxBytesPerMessage), -1)]
    [InlineData(nameof(RaftOptions.MaxSnapshotChunkBytes), 0)]
    [InlineData(nameof(RaftOptions.MaxSnapshotChunkBytes), -1)]
    [InlineData(nameof(RaftOptions.MaxCommittedBytesPerReady), 0)]
    [InlineData(nameof(RaftOptions.MaxCommittedBytesPerReady), -1)]
    public void A_flow_limit_below_one_is_refused_naming_it(string name, int value)
    {
        // Zero in flight stalls replication for good with no error; zero uncommitted refuses every proposal; a snapshot
        // in chunks of at most zero bytes would go out a byte a message, and committed entries one a Ready.
        var storage = new MemoryRaftStorage();
        var random = new SeededRaftRandom(1);
        var options = name switch
        {
            nameof(RaftOptions.MaxInflightMessages) => new RaftOptions { Id = 1, Storage = storage, Random = random, MaxInflightMessages = value },
            nameof(RaftOptions.MaxInflightBytes) => new RaftOptions { Id = 1, Storage = storage, Random = random, MaxInflightBytes = value },
            nameof(RaftOptions.MaxUncommittedEntries) => new RaftOptions { Id = 1, Storage = storage, Random = random, MaxUncommittedEntries = value },
            nameof(RaftOptions.MaxSnapshotChunkBytes) => new RaftOptions { Id = 1, Storage = storage, Random = random, MaxSnapshotChunkBytes = value },
            nameof(RaftOptions.MaxCommittedBytesPerReady) => new RaftOptions { Id = 1, Storage = storage, Random = random, MaxCommittedBytesPerReady = value },
            _ => new RaftOptions { Id = 1, Storage = storage, Random = random, MaxBytesPerMessage = value },
        };
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(name, e.ParamName);
        Assert.StartsWith($"RaftOptions.{name} must be at least 1 (was {value}).", e.Message, StringComparison.Ordinal);
    }

    private static RaftOptions Options(long id = 1, int heartbeatTicks = 1, int electionTicks = 10) => new()
    {
        Id = id,
        Storage = new MemoryRaftStorage(),
        Random = new SeededRaftRandom(1),
        HeartbeatTicks = heartbeatTicks,
        ElectionTicks = electionTicks,
    };
}
