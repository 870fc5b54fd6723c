using Microsoft.Extensions.Options;
using Pyralog.Grains.Hosting;

namespace Pyralog.Grains.Replication;

/// <summary>
/// The silo's budgets for copying a partition to a replica that is being added (a learner: a move's new replica, or one
/// that lost its data), each of <see cref="ReplicaTiming.CatchUpBytesPerSecond"/>: every leader on the silo takes what
/// it sends to learners from the send budget, and every learner on the silo takes what it is sent from the receive
/// budget before it handles it, so moves after a silo joins or leaves share the disk, CPU and network with producers
/// instead of taking all of them. The receive budget matters when a silo joins: every other silo's leaders send to it
/// at once, and without it the joining silo wrote the sum of their budgets. What goes to voters is never held back: it
/// carries commits.
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

    // When everything reserved so far from each budget is paid for at the rate (a TimeProvider timestamp).
    // Invariant: each only grows; a reservation waits until it is at most one burst ahead of now. Guarded by _lock.
    private long _sendArrival = long.MinValue;
    private long _receiveArrival = long.MinValue;

    /// <summary>False when the option is 0: learners are sent to, and take what they are sent, as fast as they can.</summary>
    public bool Enabled => _bytesPerSecond > 0;

    /// <summary>Reserves <paramref name="bytes"/> of the send budget; returns how long the send must wait first (zero within the burst).</summary>
    public TimeSpan ReserveSend(int bytes) => Reserve(ref _sendArrival, bytes);

    /// <summary>Reserves <paramref name="bytes"/> of the receive budget; returns how long a learner must wait before it handles them.</summary>
    public TimeSpan ReserveReceive(int bytes) => Reserve(ref _receiveArrival, bytes);

    private TimeSpan Reserve(ref long theoreticalArrival, int bytes)
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
            start = Math.Max(theoreticalArrival, now);
            theoreticalArrival = start + cost;
        }

        var wait = start - burst - now;
        return wait <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)wait / frequency);
    }
}
