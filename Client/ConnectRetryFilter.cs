namespace Pyralog.Client;

/// <summary>Keeps retrying the first connection to the cluster until a deadline, half a second apart.</summary>
internal sealed class ConnectRetryFilter(TimeSpan timeout, TimeProvider time) : IClientConnectionRetryFilter
{
    private readonly long _start = time.GetTimestamp();

    public async Task<bool> ShouldRetryConnectionAttempt(Exception exception, CancellationToken cancellationToken)
    {
        var delay = TimeSpan.FromMilliseconds(500);
        if (time.GetElapsedTime(_start) + delay >= timeout)
        {
            return false;
        }

        await Task.Delay(delay, time, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
