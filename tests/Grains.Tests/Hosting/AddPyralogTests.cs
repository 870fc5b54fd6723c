using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Tests.Hosting;

/// <summary>The three ways to configure Pyralog on a silo, and the same validation behind each.</summary>
public sealed class AddPyralogTests
{
    [Fact]
    public void Options_bind_from_a_configuration_section()
    {
        var options = Options(silo => silo.AddPyralog(Section(("DataDirectory", "pyralog-data"), ("Obelisk:LeaseDuration", "00:00:05"), ("MetadataReplicas", "5"))));
        Assert.Equal("pyralog-data", options.DataDirectory);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Obelisk.LeaseDuration);
        Assert.Equal(5, options.MetadataReplicas);
    }

    [Fact]
    public void Durations_from_a_section_take_a_unit_as_the_silo_hosts_do()
    {
        var options = Options(silo => silo.AddPyralog(Section(("Obelisk:LeaseDuration", "8s"), ("Replication:AppendTimeout", "1500ms"), ("Replication:DrainTimeout", "2m"))));
        Assert.Equal(
            (TimeSpan.FromSeconds(8), TimeSpan.FromMilliseconds(1500), TimeSpan.FromMinutes(2)),
            (options.Obelisk.LeaseDuration, options.Replication.AppendTimeout, options.Replication.DrainTimeout));
    }

    [Fact]
    public void A_bare_number_for_a_duration_from_a_section_is_refused_naming_its_key()
    {
        // .NET's binder alone reads "10" as ten days, an append timeout its range allows.
        var e = Assert.Throws<OptionsValidationException>(() => Options(silo => silo.AddPyralog(Section(("Replication:AppendTimeout", "10")))));
        Assert.Equal(["Pyralog:Replication:AppendTimeout '10' is not a duration: give a number with a unit (500ms, 10s, 2m, 1h) or hh:mm:ss."], e.Failures);
    }

    [Fact]
    public void The_hosts_shutdown_timeout_leaves_room_for_moving_replicas_off_and_handing_off_leaderships()
    {
        Assert.Equal(TimeSpan.FromSeconds(30 + 10 + 20), ShutdownTimeout(silo => silo.AddPyralog()));
        Assert.Equal(TimeSpan.FromSeconds(5 + 3 + 20), ShutdownTimeout(silo => silo.AddPyralog(o =>
        {
            o.Replication.MoveOffTimeout = TimeSpan.FromSeconds(5);
            o.Replication.DrainTimeout = TimeSpan.FromSeconds(3);
        }), hostTimeout: TimeSpan.FromSeconds(10)));
        Assert.Equal(TimeSpan.FromMinutes(5), ShutdownTimeout(silo => silo.AddPyralog(), hostTimeout: TimeSpan.FromMinutes(5))); // raised, never lowered
    }

    [Fact]
    public void A_gateway_drops_a_client_whose_connection_closed_within_seconds_unless_told_otherwise()
    {
        Assert.Equal(TimeSpan.FromSeconds(5), ClientDropTimeout(silo => silo.AddPyralog()));
        Assert.Equal(TimeSpan.FromSeconds(30), ClientDropTimeout(silo =>
        {
            silo.Configure<SiloMessagingOptions>(o => o.ClientDropTimeout = TimeSpan.FromSeconds(30));
            silo.AddPyralog();
        }));
        Assert.Equal(TimeSpan.FromSeconds(2), ClientDropTimeout(silo =>
        {
            silo.AddPyralog();
            silo.Configure<SiloMessagingOptions>(o => o.ClientDropTimeout = TimeSpan.FromSeconds(2));
        }));
    }

    /// <summary>.NET's binder takes a number for an enum; one that names no value is refused naming its key, not when the store opens.</summary>
    [Theory]
    [InlineData("BackgroundPriority", "Pyralog:Store:BackgroundPriority must be Normal, Low or Idle (was 7).")]
    [InlineData("Durability", "Pyralog:Store:Durability must be PerBatch in a silo (was 7): a log's durability is chosen per log (LogSettings.Durability), and Raft's terms and votes must be synced.")]
    public void A_number_that_is_no_value_of_a_store_choice_is_refused_naming_its_key(string setting, string failure)
    {
        var e = Assert.Throws<OptionsValidationException>(() => Options(silo => silo.AddPyralog(Section(($"Store:{setting}", "7")))));
        Assert.Equal([failure], e.Failures);
    }

    [Fact]
    public void Options_configure_through_their_options_builder_with_services()
    {
        var options = Options(silo => silo.AddPyralog(o => o.Configure<IHostEnvironment>((x, environment) => x.DataDirectory = Path.Combine(environment.ContentRootPath, "d"))));
        Assert.EndsWith($"{Path.DirectorySeparatorChar}d", options.DataDirectory);
    }

    [Fact]
    public void A_bad_value_from_a_section_is_refused_naming_it()
    {
        var e = Assert.Throws<OptionsValidationException>(() => Options(silo => silo.AddPyralog(Section(("Obelisk:LeaseDuration", "00:00:00.050")))));
        Assert.Contains("Pyralog:Obelisk:LeaseDuration must be at least 00:00:00.1000000 (was 00:00:00.0500000).", e.Failures);
    }

    [Fact]
    public void Adding_Pyralog_twice_registers_each_silo_service_once()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            silo.AddPyralog(o => o.DataDirectory = "first");
            silo.AddPyralog(o => o.MetadataReplicas = 5);
        });
        using var host = builder.Build();
        var participants = host.Services.GetServices<ILifecycleParticipant<ISiloLifecycle>>().ToList();
        Assert.Single(participants, p => p is SiloStore); // two would open the one data directory twice: the second fails on its lock
        Assert.Single(participants, p => p is Pyralog.Grains.Replication.LeftoverReplicaSweep);
        var options = host.Services.GetRequiredService<IOptions<PyralogOptions>>().Value;
        Assert.Equal(("first", 5), (options.DataDirectory, options.MetadataReplicas)); // both configure the one options
    }

    private static IConfiguration Section(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>($"Pyralog:{s.Key}", s.Value)))
            .Build()
            .GetSection("Pyralog");

    private static TimeSpan ShutdownTimeout(Action<ISiloBuilder> configure, TimeSpan? hostTimeout = null) =>
        Resolved<HostOptions>(configure, services =>
        {
            if (hostTimeout is { } timeout)
            {
                services.Configure<HostOptions>(o => o.ShutdownTimeout = timeout);
            }
        }).ShutdownTimeout;

    private static TimeSpan ClientDropTimeout(Action<ISiloBuilder> configure) => Resolved<SiloMessagingOptions>(configure).ClientDropTimeout;

    private static PyralogOptions Options(Action<ISiloBuilder> configure) => Resolved<PyralogOptions>(configure);

    /// <summary>The options a silo configured by <paramref name="configure"/> (after <paramref name="host"/>'s own services) resolves.</summary>
    private static TOptions Resolved<TOptions>(Action<ISiloBuilder> configure, Action<IServiceCollection>? host = null)
        where TOptions : class
    {
        var builder = Host.CreateApplicationBuilder();
        host?.Invoke(builder.Services);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering();
            configure(silo);
        });
        using var app = builder.Build();
        return app.Services.GetRequiredService<IOptions<TOptions>>().Value;
    }
}
