using System.Diagnostics;

namespace Pyralog.Storage.Native.Compaction;

/// <summary>Token bucket that paces background writes so compaction leaves disk bandwidth to appends.</summary>
internal sealed class RateLimiter
{
    private readonly long _bytesPerSecond;
    private long _start = Stopwatch.GetTimestamp();
    private long _granted;

    public RateLimiter(long bytesPerSecond) => _bytesPerSecond = bytesPerSecond;

    /// <summary>Accounts <paramref name="bytes"/> and sleeps while the writer is ahead of its rate.</summary>
    public void Consume(long bytes)
    {
        if (_bytesPerSecond <= 0)
        {
            return;
        }

        var elapsed = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        if (elapsed - ((double)_granted / _bytesPerSecond) > 1.0)
        {
            // Idle for a while: restart the bucket so idle time does not bank a burst.
            _start = Stopwatch.GetTimestamp();
            _granted = 0;
            elapsed = 0;
        }

        _granted += bytes;
        var dueSeconds = (double)_granted / _bytesPerSecond;
        if (dueSeconds > elapsed)
        {
            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(1.0, dueSeconds - elapsed)));
        }
    }
}
