using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Replication;

/*
 * A silo that stops gracefully first has its replicas moved to other silos, so the cluster keeps every partition at its
 * replication factor while the silo is gone (a scale-in loses nothing and leaves no partition a replica short).
 *
 * At the start of the stop, while the silo is still an active member and every grain runs, it marks itself draining
 * (SiloMaintenance, as `pyralog cluster drain` does): the replica mover on the metadata leader's silo then plans a move
 * for every replica homed here (ReplicaMover: learner-first, ReplicaMoves at a time) and never moves one here. The
 * stop waits until the metadata group records no replica homed at this silo's endpoint, or MoveOffTimeout passes, or
 * no move off this silo has been under way for two mover intervals while replicas remain (no other active silo can
 * take them: the whole cluster stopping, or too few silos for a partition's replicas to stay on distinct silos;
 * waiting would only delay the stop). Moves of other silos' replicas hold that off while one of this silo's could
 * move: the mover runs ReplicaMoves at a time, and this silo's turn comes when they end. Then SiloDrain hands off the leaderships of
 * whatever is left. Replicas not moved in time keep their home here: they run elsewhere as new incarnations while the
 * silo is away and return to their data when it comes back, as after a crash.
 */
internal sealed class SiloEvacuation(
    SiloMaintenance maintenance, ReplicaHomeTable homes, IGrainFactory grains, IClusterMembershipService membership, ILocalSiloDetails silo,
    IOptions<PyralogOptions> options, TimeProvider time, ILogger<SiloEvacuation> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>Before SiloDrain (stops run from the highest stage down).</summary>
    public const int StopStage = SiloDrain.StopStage + 1;

    private static readonly TimeSpan Recheck = TimeSpan.FromMilliseconds(500);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloEvacuation), StopStage, _ => Task.CompletedTask, EvacuateAsync);

    private async Task EvacuateAsync(CancellationToken cancellationToken)
    {
        var timeout = options.Value.Replication.MoveOffTimeout;
        if (timeout <= TimeSpan.Zero || options.Value.Replication.ReplicaMoveInterval == TimeSpan.Zero || cancellationToken.IsCancellationRequested || homes.IsEmpty)
        {
            return; // moves turned off, not a graceful stop, or no replica of a log ever ran here
        }

        var endpoint = silo.SiloAddress.Endpoint.ToString();
        var started = time.GetTimestamp();
        try
        {
            var (left, moving, movable, _) = await HomedHereAsync(endpoint);
            if (left == 0 || !OtherSiloActive())
            {
                return;
            }

            if (movable == 0 && moving == 0)
            {
                logger.LogInformation("Silo {Silo} stops with its {Count} replicas: every other active silo already holds a replica of their partitions", endpoint, left);
                return;
            }

            logger.LogInformation("Silo {Silo} stops: moving its {Count} replicas to other silos first (at most {Timeout})", endpoint, left, timeout);
            maintenance.MarkDraining();
            var stalledAfter = 2 * options.Value.Replication.ReplicaMoveInterval + TimeSpan.FromSeconds(1);
            var lastProgress = time.GetTimestamp();
            while (left > 0 && time.GetElapsedTime(started) < timeout && OtherSiloActive())
            {
                await Task.Delay(Recheck, time, cancellationToken);
                var before = left;
                (left, moving, movable, var elsewhere) = await HomedHereAsync(endpoint);
                // Moves of other silos' replicas count as progress while one of this silo's could start: the mover runs
                // ReplicaMoves at a time and plans nothing new while they run (a silo added, then this one stopped).
                if (moving > 0 || left < before || (elsewhere > 0 && movable > 0))
                {
                    lastProgress = time.GetTimestamp();
                }
                else if (time.GetElapsedTime(lastProgress) > stalledAfter)
                {
                    logger.LogInformation("Silo {Silo}: no other silo takes its {Count} remaining replicas", endpoint, left);
                    break;
                }
            }

            if (left == 0)
            {
                logger.LogInformation("Silo {Silo} moved all its replicas away in {Seconds:0.0} s", endpoint, time.GetElapsedTime(started).TotalSeconds);
            }
            else
            {
                logger.LogWarning("Silo {Silo} stops with {Count} replicas still homed here after {Seconds:0.0} s: they return when it does", endpoint, left, time.GetElapsedTime(started).TotalSeconds);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Silo {Silo} could not move its replicas away before stopping", endpoint);
        }
        catch (OperationCanceledException)
        {
            logger.LogWarning("The silo's stop was cancelled while its replicas moved away");
        }
    }

    /// <summary>
    /// How many replicas the metadata group records at <paramref name="endpoint"/>, how many of them are moving away, how
    /// many could move (another active silo holds no replica of their partition), and how many moves of other silos'
    /// replicas are under way.
    /// </summary>
    private async Task<(int Homed, int Moving, int Movable, int Elsewhere)> HomedHereAsync(string endpoint)
    {
        var logs = await grains.GetGrain<IMetadataAdminGrain>(0).GetMetadataLogsAsync().WaitAsync(TimeSpan.FromSeconds(5), time);
        var others = new List<string>();
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active && member.SiloAddress.Endpoint.ToString() is var other && other != endpoint)
            {
                others.Add(other);
            }
        }

        int homed = 0, moving = 0, movable = 0, elsewhere = 0;
        foreach (var log in logs)
        {
            if (log.Homes is not { } h)
            {
                continue;
            }

            homed += h.CountOn(endpoint);
            foreach (var move in log.Moves ?? [])
            {
                if (h.Home(move.Partition, move.From) == endpoint)
                {
                    moving++;
                }
                else
                {
                    elsewhere++;
                }
            }

            for (var p = 0; p < h.Partitions; p++)
            {
                if (h.SlotOn(p, endpoint) >= 0 && others.Exists(o => h.SlotOn(p, o) < 0))
                {
                    movable++;
                }
            }
        }

        return (homed, moving, movable, elsewhere);
    }

    private bool OtherSiloActive()
    {
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active && !member.SiloAddress.Endpoint.Equals(silo.SiloAddress.Endpoint))
            {
                return true;
            }
        }

        return false;
    }
}
