using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>
/// An operator's drain of this silo (<c>pyralog cluster drain</c>), like Redpanda's maintenance mode: while draining, the
/// silo hands off the leadership of every replica here and leader balancing never gives it one (its own balancer hands
/// away any it wins in an election), and replica moves (ReplicaMover) take its replicas to other silos, each replicating
/// until its replacement votes, so it can then be stopped without an election or a lost replica. The flag lives in
/// memory: a restarted silo is not draining.
/// </summary>
internal sealed class SiloMaintenance(SiloDrain drain, LocalReplicas replicas, ILocalSiloDetails silo, IOptions<PyralogOptions> options, ILogger<SiloMaintenance> logger)
{
    /// <summary>How long one drain request waits for the leaderships to move when no drain timeout is configured.</summary>
    private static readonly TimeSpan DefaultHandOff = TimeSpan.FromSeconds(10);

    private volatile bool _draining;

    public bool Draining => _draining;

    /// <summary>Marks the silo draining without handing off its leaderships (a stop does that next, see SiloEvacuation).</summary>
    public void MarkDraining() => _draining = true;

    public async Task<SiloDrainResult> SetDrainingAsync(bool draining, CancellationToken cancellationToken)
    {
        _draining = draining;
        var address = silo.SiloAddress.ToParsableString();
        if (!draining)
        {
            logger.LogInformation("Silo {Silo} is no longer draining: leader balancing may give it leaderships again", address);
            return new SiloDrainResult(address, false, 0, replicas.LeaderCount());
        }

        var configured = options.Value.Replication.DrainTimeout;
        var timeout = configured > TimeSpan.Zero ? configured : DefaultHandOff;
        var (led, stillLeading) = await drain.HandOffLeadershipAsync(timeout, cancellationToken).ConfigureAwait(false);
        logger.LogInformation(
            "Silo {Silo} is draining: {Led} replicas led here, {StillLeading} still lead; leader balancing gives it no leadership until it is undrained or restarts",
            address, led, stillLeading);
        return new SiloDrainResult(address, true, led, stillLeading);
    }
}
