using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Replication;

/// <summary>
/// The silo's budget for copying a partition to a replica that is being added (a learner: a move's new replica, or one
/// that lost its data): every leader on the silo takes what it sends to learners from one budget of
/// <see cref="ReplicaTiming.CatchUpBytesPerSecond"/>, so moves after a silo joins or leaves share the disk, CPU and
/// network with producers instead of taking all of them. What goes to voters is never held back: it carries commits.
/// </summary>
/// <remarks>
/// Paced by the generic cell rate algorithm: each send of b bytes moves a theoretical arrival time on by b / rate and
/// waits while that time is more than a burst allowance (a quarter of a second's budget) ahead, so sends start in the
/// order they reserved and the rate holds over any window longer than the burst. The Raft leader's flow control (inflight messages
/// per follower) stops producing more for a learner whose sends wait, which bounds what is held in memory.
/// </remarks>
internal sealed class CatchUpThrottle(IOptions<PyralogOptions> options, TimeProvider time)
{
    private static readonly TimeSpan Burst = TimeSpan.FromMilliseconds(250);

    private readonly long _bytesPerSecond = options.Value.Replication.CatchUpBytesPerSecond;
    private readonly Lock _lock = new();

    // When everything reserved so far is paid for at the rate (a TimeProvider timestamp). Invariant: only grows;
    // a reservation waits until it is at most one burst ahead of now. Guarded by _lock.
    private long _theoreticalArrival = long.MinValue;

    /// <summary>False when the option is 0: learners are sent to as fast as the leader can.</summary>
    public bool Enabled => _bytesPerSecond > 0;

    /// <summary>Reserves <paramref name="bytes"/> of the budget; returns how long the send must wait first (zero within the burst).</summary>
    public TimeSpan Reserve(int bytes)
    {
        if (!Enabled)
        {
            return TimeSpan.Zero;
        }

        var now = time.GetTimestamp();
        var frequency = time.TimestampFrequency;
        var cost = (long)((double)bytes / _bytesPerSecond * frequency);
        var burst = (long)(Burst.TotalSeconds * frequency);
        long start;
        lock (_lock)
        {
            start = Math.Max(_theoreticalArrival, now);
            _theoreticalArrival = start + cost;
        }

        var wait = start - burst - now;
        return wait <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)wait / frequency);
    }
}
