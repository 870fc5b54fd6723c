using System.ComponentModel.DataAnnotations;
using Pyralog.Grains.Interfaces;
using Pyralog.Grains.Interfaces.Validation;

namespace Pyralog.Silo.Hosting;

/// <summary>How the Pyralog silo process is hosted (configuration section <c>Silo</c>).</summary>
public sealed class SiloHostOptions
{
    public const string SectionName = "Silo";

    /// <summary>The annotations on these options, then the rules across settings.</summary>
    internal static readonly SettingsValidator<SiloHostOptions> Validator =
        new(SectionName, configurationPath: true, new SiloHostOptionsValidator(), new SiloHostOptionsRules());

    [Required(ErrorMessage = "{0} must not be empty")]
    public string ClusterId { get; set; } = "pyralog";

    [Required(ErrorMessage = "{0} must not be empty")]
    public string ServiceId { get; set; } = "pyralog";

    public MembershipMode Membership { get; set; } = MembershipMode.Localhost;

    /// <summary>
    /// The address this silo binds and advertises. Stays on loopback unless set; <c>0.0.0.0</c> listens on every
    /// interface and advertises the address this host's name resolves to.
    /// </summary>
    public string Address { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int SiloPort { get; set; } = 11111;

    [Range(1, 65535)]
    public int GatewayPort { get; set; } = 30000;

    /// <summary>In <see cref="MembershipMode.Development"/>: the silo port of the primary silo.</summary>
    public int PrimarySiloPort { get; set; } = 11111;

    /// <summary>In <see cref="MembershipMode.Redis"/>: a StackExchange.Redis connection string.</summary>
    public string? RedisConnectionString { get; set; }

    /// <summary>
    /// Orleans' initial liveness probe timeout (<c>ClusterMembershipOptions.ProbeTimeout</c>, Orleans default 5 s). With
    /// <see cref="MissedProbesLimit"/> it sets how soon a killed silo is declared dead; until then calls whose grain
    /// directory entries live on it can stall. Unset keeps the Orleans default. Below 100 ms a busy machine's GC pause or scheduling delay would get healthy silos declared dead.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.1", "00:05:00")]
    public TimeSpan? ProbeTimeout { get; set; }

    /// <summary>
    /// How often each silo sends its load statistics (activations, CPU, memory) to every other silo (Orleans'
    /// <c>DeploymentLoadPublisherOptions.DeploymentLoadPublisherRefreshTime</c>, Orleans default 1 s). Only Orleans'
    /// load-aware placement of the few grains Pyralog does not place itself reads them; at 1 s every silo of an idle
    /// three-silo cluster handles eight messages a second for them.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan LoadStatisticsInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The address of this silo's HTTP endpoint (metrics, health, dashboard). Stays on loopback unless set; <c>0.0.0.0</c>
    /// listens on every interface.
    /// </summary>
    public string HttpAddress { get; set; } = "127.0.0.1";

    /// <summary>The port of this silo's HTTP endpoint: <c>/metrics</c>, <c>/health/live</c>, <c>/health/ready</c>, the dashboards.</summary>
    [Range(1, 65535)]
    public int HttpPort { get; set; } = 8080;

    /// <summary>Hosts the Orleans dashboard and Pyralog's page on the HTTP endpoint. The Orleans dashboard profiles every grain call; production silos that do not want that turn it off.</summary>
    public bool Dashboard { get; set; } = true;

    /// <summary>
    /// Serves the Orleans dashboard's live log stream (<c>/dashboard/Trace</c>, its "Log Stream" page): every log line of
    /// the silo to whoever reaches the HTTP endpoint, which has no authentication. Off, the stream answers 403.
    /// </summary>
    public bool DashboardTrace { get; set; }

    /// <summary>Collects metrics and serves them at <c>/metrics</c>. Off, no meter is listened to (the benchmark's baseline for what metrics cost).</summary>
    public bool Metrics { get; set; } = true;

    /// <summary>Where to send traces and metrics over OTLP (e.g. <c>http://127.0.0.1:4317</c>); unset sends nothing. <c>/metrics</c> serves metrics either way.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Tags Pyralog's partition metrics with the partition number as well as the log. Off by default: with 10,000 partitions that is 10,000 series per instrument.</summary>
    public bool PartitionMetrics { get; set; }

    /// <summary>
    /// The most series each partition instrument keeps: one per log whose partitions this silo led since it started (per
    /// partition with <see cref="PartitionMetrics"/>; a deleted log's stay until the silo restarts, as Prometheus counts
    /// from the start). Past it, new series are counted together in one tagged <c>otel.metric.overflow</c>; the
    /// exporter reserves room for them all up front (about 100 bytes each per instrument).
    /// </summary>
    [Range(100, 1_000_000)]
    public int PartitionMetricSeries { get; set; } = 10_000;

    /// <summary>
    /// Also collects Orleans' per-message instruments (messaging sizes and counts, gateway traffic, request latency,
    /// directory lookups). Off by default: several updates on every grain message cost a busy silo about a tenth of its
    /// produce throughput; Orleans' other instruments (activations, grains, membership, storage) are collected either way.
    /// </summary>
    public bool OrleansMessagingMetrics { get; set; }

    /// <summary>Writes logs as JSON lines (one object per entry, with the replica and term scopes) instead of text.</summary>
    public bool JsonLogs { get; set; }

    /// <summary>
    /// The scheduling policy of the silo's threads on Linux (<see cref="Hosting.CpuScheduling"/>; see
    /// <see cref="ThreadScheduling"/>). <see cref="CpuScheduling.Batch"/> (the default): a woken thread does not preempt
    /// the running one, so a small busy machine switches contexts less (README, "CPU scheduling");
    /// <see cref="CpuScheduling.Normal"/> leaves the operating system's default alone.
    /// </summary>
    public CpuScheduling CpuScheduling { get; set; } = CpuScheduling.Batch;

    /// <summary>Missed probes before a silo is suspected (<c>ClusterMembershipOptions.NumMissedProbesLimit</c>, Orleans default 3). Unset keeps the Orleans default.</summary>
    [Range(1, 10)]
    public int? MissedProbesLimit { get; set; }
}
