using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Cluster;

/// <summary>Reads a <see cref="ClusterStatus"/> through any grain factory (the client's, or a test cluster's).</summary>
internal static class ClusterStatusReader
{
    /// <summary>See <see cref="PyralogClient.GetClusterStatusAsync"/>.</summary>
    public static async Task<ClusterStatus> ReadAsync(IGrainFactory grains)
    {
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        // What answers without the metadata group's leader comes first, so a cluster that lost its metadata quorum still
        // shows its silos and says why its logs are missing instead of failing when the admin grain gives up on the leader.
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false).ConfigureAwait(false);
        var metadataGroup = await admin.DescribeMetadataGroupAsync().ConfigureAwait(false);
        var drains = await DrainStatesAsync(admin).ConfigureAwait(false);
        var notes = new List<string>();
        LogInfo[] logs = [];
        if (metadataGroup.LeaderReplica >= 0)
        {
            try
            {
                logs = await admin.ListLogsAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                notes.Add($"logs not counted: {FirstLine(e.Message)}");
            }
        }

        var described = await Task.WhenAll(logs.Where(l => l.State == LogState.Active).Select(DescribeOrNoteAsync)).ConfigureAwait(false);
        return ClusterStatus.Build(
            hosts.Select(h => (h.SiloAddress.ToParsableString(), h.SiloName ?? "", h.Status.ToString())),
            described.Where(d => d.Description is not null).Select(d => d.Description!),
            notes
                .Concat(described.Where(d => d.Note is not null).Select(d => d.Note!))
                .Concat(logs.Where(l => l.State != LogState.Active).Select(l => $"log {l.Name} is being created and was not counted"))
                .Concat(ClusterStatus.MetadataNotes(metadataGroup)),
            metadataGroup,
            drains.Draining,
            drains.Unanswered);

        async Task<(LogDescription? Description, string? Note)> DescribeOrNoteAsync(LogInfo log)
        {
            try
            {
                return (await admin.DescribeLogAsync(log.Name).ConfigureAwait(false), null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Deleted, timed out or lost its leader while described: the rest of the status still holds.
                return (null, $"log {log.Name} was not counted: {FirstLine(e.Message)}");
            }
        }
    }

    /// <summary>
    /// The silos' drain states; from a silo of an earlier build, which has no <c>DrainStatesAsync</c> (it answers that it
    /// could not read the call), the draining silos its <c>DrainingSilosAsync</c> names, without the ones it could not
    /// ask: an operator upgrading silo by silo runs the new CLI against old silos. Any other failure is the first one's.
    /// </summary>
    private static async Task<SiloDrainStates> DrainStatesAsync(IPyralogAdminGrain admin)
    {
        try
        {
            return await admin.DrainStatesAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not (OperationCanceledException or TimeoutException))
        {
            string[] draining;
            try
            {
                draining = await admin.DrainingSilosAsync().ConfigureAwait(false);
            }
            catch
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
                throw;
            }

            return new SiloDrainStates(draining, []);
        }
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }
}
