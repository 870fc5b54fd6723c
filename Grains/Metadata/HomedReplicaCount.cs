namespace Pyralog.Grains.Metadata;

/// <summary>
/// How many partition replicas the metadata places on a silo, as a drain reports it. Counted after the drain took
/// effect, so a metadata group that cannot answer then must not turn a done drain into a failed call: the count is
/// <see cref="Unknown"/> instead.
/// </summary>
internal static class HomedReplicaCount
{
    /// <summary>The count when the metadata could not be read.</summary>
    public const int Unknown = -1;

    /// <summary>The replicas homed on <paramref name="endpoint"/> in the logs <paramref name="query"/> reads, or <see cref="Unknown"/> when it fails.</summary>
    public static async Task<int> OnAsync(Func<Task<MetadataLog[]>> query, string endpoint)
    {
        MetadataLog[] logs;
        try
        {
            logs = await query();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Unknown;
        }

        var homed = 0;
        foreach (var log in logs)
        {
            homed += log.Homes?.CountOn(endpoint) ?? 0;
        }

        return homed;
    }
}
