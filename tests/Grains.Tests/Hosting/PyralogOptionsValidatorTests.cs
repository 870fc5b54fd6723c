using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Hosting;

public sealed class PyralogOptionsValidatorTests
{
    private readonly PyralogOptionsValidator _validator = new();

    [Fact]
    public void The_defaults_are_valid() => Assert.True(_validator.Validate(null, new PyralogOptions()).Succeeded);

    [Fact]
    public void Every_wrong_setting_is_named()
    {
        var options = new PyralogOptions { DataDirectory = "" };
        options.Obelisk.LeaseDuration = TimeSpan.FromMilliseconds(10);
        options.Obelisk.MaxClockLead = TimeSpan.Zero;
        options.Obelisk.ReserveAhead = TimeSpan.FromHours(1);
        options.Replication.TickInterval = TimeSpan.Zero;
        options.Replication.ElectionTicks = 2;
        options.Replication.AppendTimeout = TimeSpan.FromMilliseconds(1);
        options.Replication.HomecomingInterval = TimeSpan.FromMinutes(2);
        options.Replication.DrainTimeout = TimeSpan.FromSeconds(-1);
        options.Replication.LeaderBalanceInterval = TimeSpan.FromMilliseconds(50);
        options.Replication.LeaderBalanceMoves = 0;
        options.Replication.ReplicaMoveInterval = TimeSpan.FromMilliseconds(99);
        options.Replication.ReplicaMoves = 0;
        options.Replication.ReplicaMoveTimeout = TimeSpan.FromMilliseconds(999);
        options.Replication.MoveOffTimeout = TimeSpan.FromSeconds(-1);
        options.Replication.RehomeAfter = TimeSpan.FromMilliseconds(999);
        options.MetadataReplicas = 8;
        var result = _validator.Validate(null, options);
        Assert.True(result.Failed);
        var failures = result.Failures!.ToArray();
        Assert.Contains(failures, f => f.StartsWith("Pyralog:DataDirectory", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Obelisk:LeaseDuration", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Obelisk:MaxClockSkew", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Obelisk:MaxClockLead", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Obelisk:ReserveAhead", StringComparison.Ordinal));
        Assert.Contains("Pyralog:Replication:TickInterval must be between 1 ms and 10 s (was 00:00:00).", failures);
        Assert.Contains("Pyralog:Replication:ElectionTicks must be in 3..1000 (was 2).", failures);
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Replication:AppendTimeout", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Pyralog:Replication:HomecomingInterval", StringComparison.Ordinal));
        Assert.Contains("Pyralog:Replication:DrainTimeout must be between 0 (no hand-off) and 10 minutes (was -00:00:01).", failures);
        Assert.Contains("Pyralog:Replication:LeaderBalanceInterval must be 0 (off) or at least 100 ms (was 00:00:00.0500000).", failures);
        Assert.Contains("Pyralog:Replication:LeaderBalanceMoves must be in 1..10000 (was 0).", failures);
        Assert.Contains("Pyralog:Replication:ReplicaMoveInterval must be 0 (off) or at least 100 ms (was 00:00:00.0990000).", failures);
        Assert.Contains("Pyralog:Replication:ReplicaMoves must be in 1..1000 (was 0).", failures);
        Assert.Contains("Pyralog:Replication:ReplicaMoveTimeout must be at least 1 s (was 00:00:00.9990000).", failures);
        Assert.Contains("Pyralog:Replication:MoveOffTimeout must be between 0 (a stop moves no replica) and 1 hour (was -00:00:01).", failures);
        Assert.Contains("Pyralog:Replication:RehomeAfter must be 0 (never) or at least 1 s (was 00:00:00.9990000).", failures);
        Assert.Contains("Pyralog:MetadataReplicas must be in 1..7 (was 8).", failures);
        Assert.Equal(18, failures.Length);
    }

    [Fact]
    public void A_drain_timeout_of_zero_turns_the_hand_off_off_and_is_valid()
    {
        var options = new PyralogOptions();
        options.Replication.DrainTimeout = TimeSpan.Zero;
        Assert.True(_validator.Validate(null, options).Succeeded);
        options.Replication.DrainTimeout = TimeSpan.FromMinutes(11);
        Assert.False(_validator.Validate(null, options).Succeeded);
    }

    [Fact]
    public void A_leader_balance_interval_of_zero_turns_balancing_off_and_is_valid()
    {
        var options = new PyralogOptions();
        options.Replication.LeaderBalanceInterval = TimeSpan.Zero;
        Assert.True(_validator.Validate(null, options).Succeeded);
        options.Replication.LeaderBalanceInterval = TimeSpan.FromMilliseconds(99);
        Assert.False(_validator.Validate(null, options).Succeeded);
    }

    [Fact]
    public void Replica_moves_and_moving_off_at_a_stop_turn_off_with_zero()
    {
        var options = new PyralogOptions();
        options.Replication.ReplicaMoveInterval = TimeSpan.Zero;
        options.Replication.MoveOffTimeout = TimeSpan.Zero;
        Assert.True(_validator.Validate(null, options).Succeeded);
        options.Replication.MoveOffTimeout = TimeSpan.FromMinutes(61);
        Assert.False(_validator.Validate(null, options).Succeeded);
    }
}
