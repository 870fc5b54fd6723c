using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Cluster;

/// <summary>Reads a <see cref="ClusterStatus"/> through any grain factory (the client's, or a test cluster's).</summary>
internal static class ClusterStatusReader
{
    /// <summary>See <see cref="PyralogClient.GetClusterStatusAsync"/>.</summary>
    public static async Task<ClusterStatus> ReadAsync(IGrainFactory grains)
    {
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false).ConfigureAwait(false);
        var logs = await admin.ListLogsAsync().ConfigureAwait(false);
        var described = await Task.WhenAll(logs.Where(l => l.State == LogState.Active).Select(DescribeOrNoteAsync)).ConfigureAwait(false);
        var metadataGroup = await admin.DescribeMetadataGroupAsync().ConfigureAwait(false);
        var draining = await admin.DrainingSilosAsync().ConfigureAwait(false);
        return ClusterStatus.Build(
            hosts.Select(h => (h.SiloAddress.ToParsableString(), h.SiloName ?? "", h.Status.ToString())),
            described.Where(d => d.Description is not null).Select(d => d.Description!),
            described.Where(d => d.Note is not null).Select(d => d.Note!)
                .Concat(logs.Where(l => l.State != LogState.Active).Select(l => $"log {l.Name} is being created and was not counted"))
                .Concat(ClusterStatus.MetadataNotes(metadataGroup)),
            metadataGroup,
            draining);

        async Task<(LogDescription? Description, string? Note)> DescribeOrNoteAsync(LogInfo log)
        {
            try
            {
                return (await admin.DescribeLogAsync(log.Name).ConfigureAwait(false), null);
            }
            catch (InvalidOperationException e)
            {
                var message = e.Message;
                var end = message.IndexOfAny(['\r', '\n']);
                return (null, $"log {log.Name} was not counted: {(end < 0 ? message : message[..end])}");
            }
        }
    }
}
