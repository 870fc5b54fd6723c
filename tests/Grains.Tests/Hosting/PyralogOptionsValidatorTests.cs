using System.Globalization;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Hosting;

public sealed class PyralogOptionsValidatorTests
{
    [Fact]
    public void The_defaults_are_valid() => Assert.True(PyralogOptions.Validator.Validate(null, new PyralogOptions()).Succeeded);

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
        options.Replication.CatchUpBytesPerSecond = 1000;
        options.MetadataReplicas = 8;
        var result = PyralogOptions.Validator.Validate(null, options);
        Assert.True(result.Failed);
        var failures = result.Failures!.ToArray();
        Assert.Contains("Pyralog:DataDirectory must name a directory (was '').", failures);
        Assert.Contains("Pyralog:Obelisk:LeaseDuration must be at least 00:00:00.1000000 (was 00:00:00.0100000).", failures);
        Assert.Contains("Pyralog:Obelisk:MaxClockSkew must be shorter than half of LeaseDuration (00:00:00.0050000) (was 00:00:00.5000000).", failures);
        Assert.Contains("Pyralog:Obelisk:MaxClockLead must be between 00:00:00.0010000 and 00:00:01 (was 00:00:00).", failures);
        Assert.Contains("Pyralog:Obelisk:ReserveAhead must be between 00:00:00.0010000 and 00:01:00 (was 01:00:00).", failures);
        Assert.Contains("Pyralog:Replication:TickInterval must be between 00:00:00.0010000 and 00:00:10 (was 00:00:00).", failures);
        Assert.Contains("Pyralog:Replication:ElectionTicks must be between 3 and 1000 (was 2).", failures);
        Assert.Contains("Pyralog:Replication:AppendTimeout must be at least 00:00:00.0100000 (was 00:00:00.0010000).", failures);
        Assert.Contains("Pyralog:Replication:HomecomingInterval must be at most HomecomingSweep (00:01:00) (was 00:02:00).", failures);
        Assert.Contains("Pyralog:Replication:DrainTimeout must be between 00:00:00 and 00:10:00 (was -00:00:01).", failures);
        Assert.Contains("Pyralog:Replication:LeaderBalanceInterval must be 0 (off) or at least 100 ms (was 00:00:00.0500000).", failures);
        Assert.Contains("Pyralog:Replication:LeaderBalanceMoves must be between 1 and 10000 (was 0).", failures);
        Assert.Contains("Pyralog:Replication:ReplicaMoveInterval must be 0 (off) or at least 100 ms (was 00:00:00.0990000).", failures);
        Assert.Contains("Pyralog:Replication:ReplicaMoves must be between 1 and 1000 (was 0).", failures);
        Assert.Contains("Pyralog:Replication:ReplicaMoveTimeout must be at least 00:00:01 (was 00:00:00.9990000).", failures);
        Assert.Contains("Pyralog:Replication:MoveOffTimeout must be between 00:00:00 and 01:00:00 (was -00:00:01).", failures);
        Assert.Contains("Pyralog:Replication:RehomeAfter must be 0 (never) or at least 1 s (was 00:00:00.9990000).", failures);
        Assert.Contains("Pyralog:Replication:CatchUpBytesPerSecond must be 0 (no limit) or at least 1 MiB/s, 1048576 (was 1000).", failures);
        Assert.Contains("Pyralog:MetadataReplicas must be between 1 and 7 (was 8).", failures);
        Assert.Equal(19, failures.Length);
    }

    /// <summary>Each range refuses the value one step outside it and accepts its bound (TimeSpans step by one tick).</summary>
    [Theory]
    [InlineData("DataDirectory", "d", " ")]
    [InlineData("MetadataReplicas", "1", "0")]
    [InlineData("MetadataReplicas", "7", "8")]
    [InlineData("Obelisk:LeaseDuration", "00:00:00.1", "00:00:00.0999999")]
    [InlineData("Obelisk:MaxClockSkew", "00:00:00", "-00:00:00.0000001")]
    [InlineData("Obelisk:MaxClockLead", "00:00:00.001", "00:00:00.0009999")]
    [InlineData("Obelisk:MaxClockLead", "00:00:01", "00:00:01.0000001")]
    [InlineData("Obelisk:ReserveAhead", "00:00:00.001", "00:00:00.0009999")]
    [InlineData("Obelisk:ReserveAhead", "00:01:00", "00:01:00.0000001")]
    [InlineData("Replication:TickInterval", "00:00:00.001", "00:00:00.0009999")]
    [InlineData("Replication:TickInterval", "00:00:10", "00:00:10.0000001")]
    [InlineData("Replication:ElectionTicks", "3", "2")]
    [InlineData("Replication:ElectionTicks", "1000", "1001")]
    [InlineData("Replication:AppendTimeout", "00:00:00.01", "00:00:00.0099999")]
    [InlineData("Replication:HomecomingInterval", "00:00:00.01", "00:00:00.0099999")]
    [InlineData("Replication:DrainTimeout", "00:00:00", "-00:00:00.0000001")]
    [InlineData("Replication:DrainTimeout", "00:10:00", "00:10:00.0000001")]
    [InlineData("Replication:LeaderBalanceMoves", "1", "0")]
    [InlineData("Replication:LeaderBalanceMoves", "10000", "10001")]
    [InlineData("Replication:ReplicaMoves", "1", "0")]
    [InlineData("Replication:ReplicaMoves", "1000", "1001")]
    [InlineData("Replication:MoveOffTimeout", "00:00:00", "-00:00:00.0000001")]
    [InlineData("Replication:MoveOffTimeout", "01:00:00", "01:00:00.0000001")]
    [InlineData("Replication:ReplicaMoveTimeout", "00:00:01", "00:00:00.9999999")]
    [InlineData("Store:MemtableBytes", "65536", "65535")]
    [InlineData("Store:MemtableBytes", "1073741824", "1073741825")]
    [InlineData("Store:BloomBitsPerKey", "32", "33")]
    [InlineData("Store:MaxMappedSegments", "0", "-1")]
    [InlineData("Store:SyncInterval", "00:00:00.0000001", "00:00:00")]
    public void A_range_refuses_one_step_outside_and_accepts_its_bound(string setting, string bound, string outside)
    {
        Assert.DoesNotContain(Failures(setting, bound), f => f.StartsWith($"Pyralog:{setting} ", StringComparison.Ordinal));
        var failure = Assert.Single(Failures(setting, outside), f => f.StartsWith($"Pyralog:{setting} ", StringComparison.Ordinal));
        var shown = Value(setting, outside) switch
        {
            string text => $"'{text}'",
            var other => Convert.ToString(other, CultureInfo.InvariantCulture),
        };
        Assert.EndsWith($"(was {shown}).", failure);
    }

    [Fact]
    public void The_clock_skew_the_counter_files_reservation_and_twice_the_clock_lead_must_fit_in_half_a_lease()
    {
        var options = new PyralogOptions();
        options.Obelisk.LeaseDuration = TimeSpan.FromSeconds(1);
        options.Obelisk.MaxClockSkew = TimeSpan.FromMilliseconds(497);
        options.Obelisk.MaxClockLead = TimeSpan.FromMilliseconds(1);
        options.Obelisk.ReserveAhead = TimeSpan.FromTicks(TimeSpan.TicksPerMillisecond - 1);
        Assert.Equal(
            ["Pyralog:Obelisk:ReserveAhead must be between 00:00:00.0010000 and 00:01:00 (was 00:00:00.0009999)."],
            PyralogOptions.Validator.Validate(null, options).Failures);
        options.Obelisk.ReserveAhead = TimeSpan.FromMilliseconds(1);
        Assert.Equal(
            ["Pyralog:Obelisk: ReserveAhead plus MaxClockSkew plus twice MaxClockLead must be shorter than half of LeaseDuration (00:00:00.5000000) "
                + "(was 00:00:00.0010000 + 00:00:00.4970000 + 2 × 00:00:00.0010000)."],
            PyralogOptions.Validator.Validate(null, options).Failures);
        options.Obelisk.MaxClockSkew = TimeSpan.FromMilliseconds(497) - TimeSpan.FromTicks(1);
        Assert.True(PyralogOptions.Validator.Validate(null, options).Succeeded);
        options.Obelisk.MaxClockSkew = TimeSpan.FromMilliseconds(500);
        Assert.Equal(
            ["Pyralog:Obelisk:MaxClockSkew must be shorter than half of LeaseDuration (00:00:00.5000000) (was 00:00:00.5000000)."],
            PyralogOptions.Validator.Validate(null, options).Failures);
    }

    [Fact]
    public void The_clock_lead_counts_twice_against_half_a_lease()
    {
        // A holder resumed from its counter file issues up to ReserveAhead + 2 × MaxClockLead ahead of its wall clock; a
        // replacement after a lost lease record starts from its own half a lease later. A 1 s lead under a 1 s lease was accepted.
        var options = new PyralogOptions();
        options.Obelisk.LeaseDuration = TimeSpan.FromSeconds(1);
        options.Obelisk.MaxClockSkew = TimeSpan.Zero;
        options.Obelisk.ReserveAhead = TimeSpan.FromMilliseconds(250);
        options.Obelisk.MaxClockLead = TimeSpan.FromSeconds(1);
        Assert.Equal(
            ["Pyralog:Obelisk: ReserveAhead plus MaxClockSkew plus twice MaxClockLead must be shorter than half of LeaseDuration (00:00:00.5000000) "
                + "(was 00:00:00.2500000 + 00:00:00 + 2 × 00:00:01)."],
            PyralogOptions.Validator.Validate(null, options).Failures);
        options.Obelisk.MaxClockLead = TimeSpan.FromMilliseconds(125);
        Assert.False(PyralogOptions.Validator.Validate(null, options).Succeeded); // once it would fit, twice it does not
        options.Obelisk.MaxClockLead = TimeSpan.FromMilliseconds(125) - TimeSpan.FromTicks(1);
        Assert.True(PyralogOptions.Validator.Validate(null, options).Succeeded);
    }

    [Fact]
    public void A_clock_lead_whose_double_is_past_what_a_TimeSpan_holds_fails_validation_naming_it()
    {
        // Twice 6,000,000 days is past TimeSpan.MaxValue: the rule across settings threw OverflowException out of validation.
        var options = new PyralogOptions();
        options.Obelisk.MaxClockLead = TimeSpan.FromDays(6_000_000);
        var result = PyralogOptions.Validator.Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
            [
                "Pyralog:Obelisk:MaxClockLead must be between 00:00:00.0010000 and 00:00:01 (was 6000000.00:00:00).",
                "Pyralog:Obelisk: ReserveAhead plus MaxClockSkew plus twice MaxClockLead must be shorter than half of LeaseDuration (00:00:05) "
                    + "(was 00:00:00.2500000 + 00:00:00.5000000 + 2 × 6000000.00:00:00).",
            ],
            result.Failures);
    }

    [Fact]
    public void The_homecoming_interval_is_at_most_the_sweep()
    {
        var options = new PyralogOptions();
        options.Replication.HomecomingSweep = TimeSpan.FromSeconds(5);
        options.Replication.HomecomingInterval = TimeSpan.FromSeconds(5);
        Assert.True(PyralogOptions.Validator.Validate(null, options).Succeeded);
        options.Replication.HomecomingInterval = TimeSpan.FromSeconds(5) + TimeSpan.FromTicks(1);
        Assert.Equal(
            ["Pyralog:Replication:HomecomingInterval must be at most HomecomingSweep (00:00:05) (was 00:00:05.0000001)."],
            PyralogOptions.Validator.Validate(null, options).Failures);
    }

    [Fact]
    public void A_data_directory_with_characters_a_path_cannot_hold_is_refused()
    {
        var failures = PyralogOptions.Validator.Validate(null, new PyralogOptions { DataDirectory = "a\0b" }).Failures;
        Assert.Equal(["Pyralog:DataDirectory 'a\0b' contains characters that are not allowed in a path."], failures);
    }

    [Fact]
    public void A_drain_timeout_of_zero_turns_the_hand_off_off_and_is_valid()
    {
        var options = new PyralogOptions();
        options.Replication.DrainTimeout = TimeSpan.Zero;
        Assert.True(PyralogOptions.Validator.Validate(null, options).Succeeded);
        options.Replication.DrainTimeout = TimeSpan.FromMinutes(11);
        Assert.False(PyralogOptions.Validator.Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData("Replication:LeaderBalanceInterval", "00:00:00.1", "00:00:00.0999999")]
    [InlineData("Replication:ReplicaMoveInterval", "00:00:00.1", "00:00:00.0999999")]
    [InlineData("Replication:RehomeAfter", "00:00:01", "00:00:00.9999999")]
    public void An_interval_that_zero_turns_off_is_zero_or_at_least_its_minimum(string setting, string minimum, string below)
    {
        Assert.Empty(Failures(setting, "00:00:00"));
        Assert.Empty(Failures(setting, minimum));
        Assert.Single(Failures(setting, below), f => f.StartsWith($"Pyralog:{setting} must be 0 ", StringComparison.Ordinal));
        Assert.Single(Failures(setting, "-00:00:01"), f => f.StartsWith($"Pyralog:{setting} must be 0 ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0L, true)]
    [InlineData(1L << 20, true)]
    [InlineData((1L << 20) - 1, false)]
    [InlineData(-1L, false)]
    public void The_catch_up_budget_is_zero_for_no_limit_or_at_least_one_mebibyte_a_second(long bytesPerSecond, bool valid)
    {
        var options = new PyralogOptions();
        options.Replication.CatchUpBytesPerSecond = bytesPerSecond;
        var failures = PyralogOptions.Validator.Validate(null, options).Failures?.ToArray() ?? [];
        Assert.Equal(valid, failures.Length == 0);
        Assert.All(failures, f => Assert.StartsWith("Pyralog:Replication:CatchUpBytesPerSecond must be ", f, StringComparison.Ordinal));
    }

    [Fact]
    public void Replica_moves_and_moving_off_at_a_stop_turn_off_with_zero()
    {
        var options = new PyralogOptions();
        options.Replication.ReplicaMoveInterval = TimeSpan.Zero;
        options.Replication.MoveOffTimeout = TimeSpan.Zero;
        Assert.True(PyralogOptions.Validator.Validate(null, options).Succeeded);
        options.Replication.MoveOffTimeout = TimeSpan.FromMinutes(61);
        Assert.False(PyralogOptions.Validator.Validate(null, options).Succeeded);
    }

    /// <summary>The failures of the default options with one setting (a configuration path under <c>Pyralog</c>) changed.</summary>
    private static string[] Failures(string setting, string value)
    {
        var options = new PyralogOptions();
        object target = options;
        var path = setting.Split(':');
        foreach (var member in path[..^1])
        {
            target = target.GetType().GetProperty(member)!.GetValue(target)!;
        }

        target.GetType().GetProperty(path[^1])!.SetValue(target, Value(setting, value));
        return PyralogOptions.Validator.Validate(null, options).Failures?.ToArray() ?? [];
    }

    /// <summary>A value written as in configuration, as the type of the setting it is for.</summary>
    private static object Value(string setting, string value)
    {
        var type = typeof(PyralogOptions);
        foreach (var member in setting.Split(':'))
        {
            type = type.GetProperty(member)!.PropertyType;
        }

        return type == typeof(string) ? value
            : type == typeof(TimeSpan) ? TimeSpan.Parse(value, CultureInfo.InvariantCulture)
            : Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
    }
}
