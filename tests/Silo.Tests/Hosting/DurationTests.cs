using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Silo.Hosting;

namespace Pyralog.Silo.Tests.Hosting;

public sealed class DurationTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("10s", 10_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("00:00:10", 10_000)]
    [InlineData("00:00:00.250", 250)]
    [InlineData("1.00:00:00", 86_400_000)]
    public void Durations_take_a_unit_or_the_clock_form(string text, int milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("10")]
    [InlineData("0.5")]
    [InlineData("10 s")]
    [InlineData("10d")]
    [InlineData("-1s")]
    [InlineData("s")]
    [InlineData("")]
    [InlineData("999999999h")]
    public void A_bare_number_an_unknown_unit_or_one_past_what_a_TimeSpan_holds_is_no_duration(string text) => Assert.False(Duration.TryParse(text, out _));

    [Fact]
    public void Durations_on_the_command_line_reach_the_options()
    {
        // (A lease plus skew must stay under Orleans' 30 s activation timeout; ReserveAhead, skew and twice the clock lead under half a lease.)
        using var host = PyralogSiloHost.CreateBuilder(
            ["--Pyralog:Obelisk:LeaseDuration", "20s", "Pyralog:Obelisk:MaxClockSkew=750ms", "--Pyralog:Obelisk:ReserveAhead", "0.15m"]).Build();
        var obelisk = host.Services.GetRequiredService<IOptions<PyralogOptions>>().Value.Obelisk;
        Assert.Equal(TimeSpan.FromSeconds(20), obelisk.LeaseDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(750), obelisk.MaxClockSkew);
        Assert.Equal(TimeSpan.FromSeconds(9), obelisk.ReserveAhead);
        Assert.Equal(TimeSpan.FromMilliseconds(5), obelisk.MaxClockLead);
    }

    [Fact]
    public void Store_settings_reach_the_silo_store()
    {
        using var host = PyralogSiloHost.CreateBuilder(
            ["--Pyralog:Store:BackgroundPriority", "Idle", "Pyralog:Store:MemtableBytes=1048576"]).Build();
        var store = host.Services.GetRequiredService<IOptions<PyralogOptions>>().Value.Store;
        Assert.Equal((Pyralog.Storage.Native.BackgroundPriority.Idle, 1L << 20), (store.BackgroundPriority, store.MemtableBytes));
    }

    [Theory]
    [InlineData("Interval")]
    [InlineData("None")]
    public void A_store_that_does_not_sync_each_batch_is_refused_naming_the_setting(string durability)
    {
        // Refused as the host is built (its shutdown budget reads the options) or, at the latest, when they are read.
        var e = Assert.Throws<OptionsValidationException>(() =>
        {
            using var host = PyralogSiloHost.CreateBuilder(["--Pyralog:Store:Durability", durability]).Build();
            return host.Services.GetRequiredService<IOptions<PyralogOptions>>().Value;
        });
        Assert.Contains($"Pyralog:Store:Durability must be PerBatch in a silo (was {durability})", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_store_without_its_background_work_is_refused_naming_the_setting()
    {
        // Nothing in a silo would compact the store, apply retention or flush off the commit thread.
        var e = Assert.Throws<OptionsValidationException>(() =>
        {
            using var host = PyralogSiloHost.CreateBuilder(["--Pyralog:Store:BackgroundWork", "false"]).Build();
            return host.Services.GetRequiredService<IOptions<PyralogOptions>>().Value;
        });
        Assert.Equal(
            ["Pyralog:Store:BackgroundWork must be true in a silo (was false): without it the store never compacts nor applies retention, so compacted Raft logs, "
                + "expired records and deleted logs never free disk, and memtables are flushed on the commit thread while every write waits."],
            e.Failures);
    }

    [Fact]
    public void A_clock_lead_whose_double_is_past_what_a_TimeSpan_holds_is_refused_naming_it()
    {
        // 200000000h parses (8,333,333 days); twice it overflowed a TimeSpan in the rule across settings, and the
        // OverflowException escaped the build, where the silo host turns only validation failures into exit code 2.
        var e = Assert.Throws<OptionsValidationException>(() =>
        {
            using var host = PyralogSiloHost.CreateBuilder(["--Pyralog:Obelisk:MaxClockLead", "200000000h"]).Build();
            return host.Services.GetRequiredService<IOptions<PyralogOptions>>().Value;
        });
        Assert.Contains("Pyralog:Obelisk:MaxClockLead must be between 00:00:00.0010000 and 00:00:01 (was 8333333.08:00:00).", e.Failures);
    }
}
