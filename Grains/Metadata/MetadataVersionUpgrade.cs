using Microsoft.Extensions.Logging;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// Raises the metadata group's version to this build's <see cref="MetadataVersion.Latest"/> once every silo in the
/// cluster applies it (see <see cref="MetadataVersion"/>): every <see cref="CheckInterval"/> each silo reads the group's
/// version, and the silo whose replica leads the metadata group raises it. A silo that does not answer, or answers a
/// lower version (or is of a build before versions: the call fails), holds the version where it is. The leader's
/// applied state is read without a Raft round, so the check does not keep an idle metadata group awake; once the group
/// is at this build's version the loop ends, on every silo. The first read that succeeds also records in the silo's store
/// that it met the founded group, and in the cluster's grain storage that the group is founded (see MetadataFounding).
/// </summary>
internal sealed class MetadataVersionUpgrade(
    IClusterMembershipService membership, IGrainFactory grains, LocalReplicas replicas, SiloReportClient reports, SiloStore store,
    ILocalSiloDetails localSilo, TimeProvider time, ILogger<MetadataVersionUpgrade> logger)
    : SiloWatch
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    private bool _recordFailureLogged; // the first failure to write the cluster's founding record is a warning, later ones debug

    protected override async Task WatchAsync(CancellationToken stopping)
    {
        var known = -1L;
        var recorded = false;
        var clusterRecorded = false;
        try
        {
            while (true)
            {
                await Task.Delay(CheckInterval, time, stopping);
                try
                {
                    var admin = grains.GetGrain<IMetadataAdminGrain>(0);
                    var view = await admin.GetAppliedMetadataLogsAsync(known).WaitAsync(CallTimeout, stopping);
                    known = view.AppliedIndex;
                    if (!recorded)
                    {
                        // This silo met the founded group: should it come back first after a full stop, with every
                        // metadata replica placed on it and no partition data, it must not found an empty one.
                        await ReplicaKv.RecordSawFoundedGroupAsync(store.Store);
                        recorded = true;
                    }

                    // And so did the cluster, in storage that outlives every silo's data (a group founded by an earlier
                    // build, or whose founder failed to write it, gets its record here). Its storage failing holds up
                    // nothing else here: it is asked again at the next check.
                    clusterRecorded = clusterRecorded || await RecordFoundingAsync(stopping);
                    if (view.Version >= MetadataVersion.Latest)
                    {
                        if (clusterRecorded)
                        {
                            return; // on every silo: nothing more to watch for this process's life
                        }

                        continue;
                    }

                    if (!replicas.LeadsMetadataGroup())
                    {
                        continue;
                    }

                    if (await LowestSiloVersionAsync(stopping) is var (lowest, silo) && lowest < MetadataVersion.Latest)
                    {
                        logger.LogDebug("The metadata group stays at version {Version}: silo {Silo} applies up to {Lowest}", view.Version, silo, lowest);
                        continue;
                    }

                    var raise = new MetadataCommand { Kind = MetadataVersion.RaiseKind, Version = MetadataVersion.Latest };
                    var raised = await admin.CommitMetadataAsync(raise.Encode()).WaitAsync(CallTimeout, stopping);
                    if (raised.Error is { } error)
                    {
                        logger.LogWarning("The metadata group did not rise to version {Version}: {Error}", MetadataVersion.Latest, error);
                        continue;
                    }

                    logger.LogInformation("The metadata group rose from version {From} to {To}: every silo in the cluster applies it", view.Version, MetadataVersion.Latest);
                    if (clusterRecorded)
                    {
                        return;
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    logger.LogDebug(e, "The metadata version check will be retried");
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>Writes the cluster's founding record (kept if already there); false when its storage failed.</summary>
    private async Task<bool> RecordFoundingAsync(CancellationToken stopping)
    {
        try
        {
            await grains.GetGrain<IMetadataFoundingRecordGrain>(0).RecordAsync(localSilo.SiloAddress.ToString()).WaitAsync(CallTimeout, stopping);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            var level = _recordFailureLogged ? LogLevel.Debug : LogLevel.Warning;
            _recordFailureLogged = true;
            logger.Log(level, e, "The cluster's record that the metadata group is founded could not be written (grain storage '{Storage}'); retried every {Interval}",
                PyralogStorageNames.Cluster, CheckInterval);
            return false;
        }
    }

    /// <summary>
    /// The lowest version any silo in the cluster applies and that silo (0 for one that did not answer), or null when
    /// all apply the latest. Every silo not declared dead is asked, joining and stopping ones too: a stopping silo's
    /// replicas run until Orleans deactivates them, and one of an older build could take a snapshot in the old format
    /// after the rise, which would take a newer replica that installs it back below the group's version.
    /// </summary>
    private async Task<(int Lowest, SiloAddress Silo)?> LowestSiloVersionAsync(CancellationToken stopping)
    {
        var silos = new List<SiloAddress>();
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status is not (SiloStatus.Dead or SiloStatus.None))
            {
                silos.Add(member.SiloAddress);
            }
        }

        var asks = new Task<int>[silos.Count];
        for (var i = 0; i < silos.Count; i++)
        {
            asks[i] = reports.For(silos[i]).MetadataVersionAsync().WaitAsync(CallTimeout, stopping);
        }

        await ((Task)Task.WhenAll(asks)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        (int, SiloAddress)? lowest = null;
        for (var i = 0; i < silos.Count; i++)
        {
            var version = asks[i].IsCompletedSuccessfully ? asks[i].Result : 0;
            if (version < MetadataVersion.Latest && (lowest is null || version < lowest.Value.Item1))
            {
                lowest = (version, silos[i]);
            }
        }

        return lowest;
    }
}
