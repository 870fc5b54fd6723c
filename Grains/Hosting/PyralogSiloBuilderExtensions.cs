using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;
using Pyralog.Networking;
using Pyralog.Grains.Obelisk;

namespace Pyralog.Grains.Hosting;

/// <summary>Adds Pyralog to any Orleans silo.</summary>
public static class PyralogSiloBuilderExtensions
{
    /// <summary>How long a silo's gateway keeps a client whose connection closed (Orleans' <c>SiloMessagingOptions.ClientDropTimeout</c>, unless set otherwise).</summary>
    public static readonly TimeSpan ClientDropTimeout = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan OrleansClientDropTimeout = new SiloMessagingOptions().ClientDropTimeout;

    /// <summary>
    /// Registers everything Pyralog adds to a silo: its grains' options (validated at start-up), the clock, the
    /// silo's store (<see cref="SiloStore"/>, opened before grains activate), and an
    /// in-memory grain storage for obelisk leases unless a provider named <see cref="PyralogStorageNames.Obelisk"/>
    /// is registered already. Register a durable one (before or after this call) for multi-silo clusters: with the in-memory default, once a
    /// silo has left or died an obelisk's first activation waits out a full lease (a lease record lost with that silo
    /// cannot be told from one never written), and the cluster's record that its metadata group was founded (kept under
    /// <see cref="PyralogStorageNames.Cluster"/>, by default in the obelisks' provider) is lost in a full stop. Also registers the stop steps that hand the leadership of local replicas to siblings on other silos
    /// (<see cref="Replication.SiloDrain"/>, bounded by <c>Pyralog:Replication:DrainTimeout</c>) and then release local obelisk leases.
    /// </summary>
    public static ISiloBuilder AddPyralog(this ISiloBuilder builder, Action<PyralogOptions>? configure = null) =>
        builder.AddPyralog(options =>
        {
            if (configure is not null)
            {
                options.Configure(configure);
            }
        });

    /// <summary>
    /// <see cref="AddPyralog(ISiloBuilder, Action{PyralogOptions})"/> with the options read from a configuration section
    /// as the silo host reads <c>Pyralog</c> (<c>DataDirectory</c>, <c>Obelisk:LeaseDuration</c>, <c>Replication:…</c>):
    /// durations take a unit (<c>500ms</c>, <c>10s</c>) or the <c>hh:mm:ss</c> form, and a bare number is refused
    /// naming its key when the options are first read.
    /// </summary>
    public static ISiloBuilder AddPyralog(this ISiloBuilder builder, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return builder.AddPyralog(options => options.Configure(o => PyralogOptionsBinding.Bind(o, section)));
    }

    /// <summary>
    /// <see cref="AddPyralog(ISiloBuilder, Action{PyralogOptions})"/> configuring the options through their
    /// <see cref="OptionsBuilder{TOptions}"/> (bind, configure with services, add validation), in Orleans' shape. The
    /// options are validated when the silo starts, whatever configured them.
    /// </summary>
    public static ISiloBuilder AddPyralog(this ISiloBuilder builder, Action<OptionsBuilder<PyralogOptions>> configureOptions)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configureOptions);
        var options = builder.Services.AddOptions<PyralogOptions>();
        configureOptions(options);
        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PyralogOptions>>(PyralogOptions.Validator));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PyralogOptions>, ObeliskActivationTimeoutValidator>());
        builder.Services.TryAddSingleton(TimeProvider.System);
        // A graceful stop moves the silo's replicas away, then hands off its leaderships, then Orleans stops: the host's
        // shutdown timeout (.NET's default is 30 s) is raised to leave room for all three, never lowered.
        builder.Services.AddOptions<HostOptions>().PostConfigure<IOptions<PyralogOptions>>((host, pyralog) =>
            host.ShutdownTimeout = Max(host.ShutdownTimeout, StopBudget(pyralog.Value.Replication)));
        builder.Services.TryAddSingleton(sp => new Partitions.PartitionClock(sp.GetRequiredService<TimeProvider>()));
        // A gateway keeps a client whose connection closed for ClientDropTimeout, and meanwhile takes every message its
        // silo sends that client, the answers to calls that entered through other gateways included (Orleans looks for
        // its own clients before a message's target): with Orleans' minute, checked once a minute, a client that lost one
        // gateway got no answer from that silo's grains for one to two minutes. A client whose connection closed
        // reconnects at once when it can, so seconds suffice. A value set to anything but Orleans' default is kept.
        builder.Services.AddOptions<SiloMessagingOptions>().PostConfigure(static messaging =>
        {
            if (messaging.ClientDropTimeout == OrleansClientDropTimeout)
            {
                messaging.ClientDropTimeout = ClientDropTimeout;
            }
        });

        var hasObeliskStorage = builder.Services.Any(d =>
            d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, PyralogStorageNames.Obelisk));
        if (!hasObeliskStorage)
        {
            builder.AddMemoryGrainStorage(PyralogStorageNames.Obelisk);
        }

        var hasClusterStorage = builder.Services.Any(d =>
            d.ServiceType == typeof(IGrainStorage) && d.IsKeyedService && Equals(d.ServiceKey, PyralogStorageNames.Cluster));
        if (!hasClusterStorage)
        {
            // The obelisks' provider, resolved when first used: one registered after AddPyralog serves both.
            builder.Services.AddKeyedSingleton<IGrainStorage>(PyralogStorageNames.Cluster,
                static (services, _) => services.GetRequiredKeyedService<IGrainStorage>(PyralogStorageNames.Obelisk));
        }

        // Decided from the storage the silo resolves, not from what was registered so far: a provider registered after
        // AddPyralog wins over the in-memory default, and an in-memory one registered before it is volatile all the same.
        builder.Services.TryAddSingleton(services => new ObeliskLeaseStorage(
            IsVolatile: services.GetRequiredKeyedService<IGrainStorage>(PyralogStorageNames.Obelisk) is MemoryGrainStorage));
        if (!builder.Services.Any(d => d.ServiceType == typeof(ObeliskActivations)))
        {
            // Obelisks release their leases at the start of a graceful stop, while their storage still runs.
            builder.Services.AddSingleton<ObeliskActivations>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ObeliskActivations>());
        }

        Placement.ReplicaPlacement.AddTo(builder.Services);
        if (!builder.Services.Any(d => d.ServiceType == typeof(Replication.LocalReplicas)))
        {
            builder.Services.AddSingleton<Replication.LocalReplicas>();
            builder.Services.AddSingleton<Replication.PinnedReplicas>();
            builder.Services.AddSingleton<IActivationWorkingSetObserver, Replication.ReplicaDeactivationWatch>();
            builder.Services.AddSingleton<Replication.CatchUpThrottle>();
            builder.Services.AddSingleton<Placement.ReplicaHomeTable>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Placement.ReplicaHomeTable>());
            builder.Services.AddSingleton<Replication.ReplicaWakeups>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.ReplicaWakeups>());
            builder.Services.AddSingleton<Replication.ReplicaHomecoming>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.ReplicaHomecoming>());
            builder.Services.AddSingleton<Replication.LeadershipReader>();
            builder.Services.AddSingleton<Replication.LeaderBalancing>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.LeaderBalancing>());
            builder.Services.AddSingleton<Replication.ReplicaRehoming>();
            builder.Services.AddSingleton<Replication.LeftoverReplicaSweep>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.LeftoverReplicaSweep>());
            builder.Services.AddSingleton<Metadata.MetadataVersionUpgrade>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Metadata.MetadataVersionUpgrade>());
            builder.Services.AddSingleton<Replication.ReplicaMover>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.ReplicaMover>());
            builder.Services.AddSingleton<Replication.SiloDrain>();
            builder.Services.AddSingleton<Replication.SiloMaintenance>();
            builder.Services.AddSingleton<Replication.SiloEvacuation>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.SiloEvacuation>());
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.SiloDrain>());
        }

        if (!builder.Services.Any(d => d.ServiceType == typeof(Diagnostics.ThreadPoolStallReport)))
        {
            builder.Services.AddSingleton<Diagnostics.ThreadPoolStallReport>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Diagnostics.ThreadPoolStallReport>());
        }

        if (!builder.Services.Any(d => d.ServiceType == typeof(Diagnostics.SiloReportClient)))
        {
            builder.AddGrainService<Diagnostics.SiloReportService>();
            builder.Services.AddSingleton<Diagnostics.SiloReportClient>();
        }

        if (!builder.Services.Any(d => d.ServiceType == typeof(SiloStore)))
        {
            // Once: a second participant would open the same directory again, and the store's LOCK file fails the start.
            builder.Services.AddSingleton<SiloStore>();
            builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => services.GetRequiredService<SiloStore>());
        }

        return builder;
    }

    /// <summary>
    /// Carries this silo's Orleans messaging (silo to silo, gateway) over <see cref="InlineSocketTransport"/> instead of
    /// Orleans' socket transport: two thread hand-offs fewer per message. The silo host calls it; a silo of your own opts
    /// in, because it replaces whatever transport is registered (the TestingHost's in-memory one too).
    /// </summary>
    public static ISiloBuilder UseInlineSockets(this ISiloBuilder builder)
    {
        InlineSocketTransport.Use(builder.Services);
        return builder;
    }

    /// <summary>What a graceful stop may take: moving the replicas off, handing off the leaderships, then 20 s for Orleans' own stop.</summary>
    internal static TimeSpan StopBudget(Replication.ReplicaTiming timing) =>
        timing.MoveOffTimeout + timing.DrainTimeout + TimeSpan.FromSeconds(20);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
