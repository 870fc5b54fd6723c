namespace Pyralog.Client.Tests.Cluster;

/// <summary>Takes records from an endless consumer enumeration.</summary>
internal static class Streams
{
    /// <summary>The first <paramref name="count"/> items (fails if they do not come within <paramref name="timeout"/>).</summary>
    public static async Task<List<T>> TakeAsync<T>(IAsyncEnumerable<T> source, int count, TimeSpan timeout)
    {
        using var stop = new CancellationTokenSource(timeout);
        var taken = new List<T>(count);
        try
        {
            await foreach (var item in source.WithCancellation(stop.Token))
            {
                taken.Add(item);
                if (taken.Count == count)
                {
                    return taken;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        Assert.Fail($"only {taken.Count} of {count} records came within {timeout.TotalSeconds} s");
        return taken;
    }
}
