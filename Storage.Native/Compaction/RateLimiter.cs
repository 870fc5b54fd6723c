using System.Diagnostics;

namespace Pyralog.Storage.Native.Compaction;

/// <summary>Token bucket that paces background writes so compaction leaves disk bandwidth to appends.</summary>
internal sealed class RateLimiter
{
    private readonly long _bytesPerSecond;
    private readonly long _start = Stopwatch.GetTimestamp();
    private long _granted;

    public RateLimiter(long bytesPerSecond) => _bytesPerSecond = bytesPerSecond;

    /// <summary>Accounts <paramref name="bytes"/> and sleeps while the writer is ahead of its rate.</summary>
    public void Consume(long bytes)
    {
        if (_bytesPerSecond <= 0)
        {
            return;
        }

        _granted += bytes;
        var dueSeconds = (double)_granted / _bytesPerSecond;
        var elapsed = Stopwatch.GetElapsedTime(_start).TotalSeconds;
        if (dueSeconds > elapsed)
        {
            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(1.0, dueSeconds - elapsed)));
        }
    }
}
