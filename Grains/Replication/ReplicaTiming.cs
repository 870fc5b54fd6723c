using System.ComponentModel.DataAnnotations;

namespace Pyralog.Grains.Replication;

/// <summary>
/// How fast replicas tick (section <c>Pyralog:Replication</c>). An election starts after
/// <see cref="ElectionTicks"/> to twice that many ticks without a leader; a leader heartbeats every tick while its
/// group is active. Defaults: 30 ms ticks, 10 ticks → 300–600 ms to detect a dead leader.
/// </summary>
public sealed class ReplicaTiming
{
    /// <summary>How long a placement or activation waits for the metadata group to say where a replica lives.</summary>
    internal static readonly TimeSpan HomesWait = TimeSpan.FromSeconds(2);

    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10")]
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromMilliseconds(30);

    [Range(3, 1000)]
    public int ElectionTicks { get; set; } = 10;

    /// <summary>
    /// Bytes of durable log entries each replica keeps in memory, the newest, for followers that are a little behind
    /// (older ones are read from the silo's store). A silo's memory for them is at most this times the replicas it hosts.
    /// </summary>
    [Range(0L, long.MaxValue)]
    public long CachedEntryBytes { get; set; } = 1 << 20;

    /// <summary>How long an append waits for its commit before it fails as "outcome unknown".</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "10675199.02:48:05.4775807")]
    public TimeSpan AppendTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a silo checks, after a membership change and while some replica it asked has not left yet, whether its replicas should return to their home silos.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "10675199.02:48:05.4775807")]
    public TimeSpan HomecomingInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often a silo checks its replicas' homes even when nothing changed.</summary>
    public TimeSpan HomecomingSweep { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long a silo that stops gracefully may spend handing the leadership of its replicas to siblings on other
    /// silos before Orleans deactivates them (0: no hand-off). Keep it below the host's shutdown timeout.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often a silo compares the number of groups it leads with the other active silos' and hands leaderships to
    /// less loaded ones (see LeaderBalancing); a silo starts acting on an imbalance it saw twice in a row, then acts each
    /// round while it lasts. 0 turns balancing off.
    /// </summary>
    public TimeSpan LeaderBalanceInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>At most this many leaderships a silo hands over per <see cref="LeaderBalanceInterval"/> (each costs its group a round trip without proposals).</summary>
    [Range(1, 10_000)]
    public int LeaderBalanceMoves { get; set; } = 8;

    /// <summary>
    /// How often the silo leading the metadata group looks for replicas to move (off draining or stopping silos, onto
    /// silos that joined: see ReplicaMover). 0 turns replica moves off.
    /// </summary>
    public TimeSpan ReplicaMoveInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>At most this many replica moves run at once (each copies its partition's retained data to the new silo).</summary>
    [Range(1, 1000)]
    public int ReplicaMoves { get; set; } = 2;

    /// <summary>
    /// How long a silo that stops gracefully waits for its replicas to be moved to other silos (a learner added
    /// elsewhere, promoted, the leaving replica removed) before it hands off its leaderships and exits; replicas not moved
    /// by then stay homed here and return when the silo does. 0: a stop moves no replica. Keep it below the host's
    /// shutdown timeout (the silo host allows this plus <see cref="DrainTimeout"/> plus 20 s).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan MoveOffTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a replica's home silo must be gone (not active, nor stopping) before the silo where the replica runs
    /// meanwhile, as a caught-up voter, is recorded as its home (see ReplicaRehoming): a silo that died for good stops
    /// holding homes. 0: never; a silo that returns after this finds its replicas homed elsewhere.
    /// </summary>
    public TimeSpan RehomeAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Bytes per second a silo sends, over all the groups it leads, to replicas being added (a move's new replica, or one
    /// that lost its data and catches up as a learner); what goes to voters is never held back. Limits how much of the
    /// disk, CPU and network moves take from producers after a silo joins or leaves. 0: no limit.
    /// </summary>
    [Range(typeof(long), "0", "9223372036854775807")]
    public long CatchUpBytesPerSecond { get; set; } = 32L << 20;

    /// <summary>A move whose new replica copies nothing for this long (its Raft log does not grow, it does not become a
    /// voter) is abandoned, and planned again later. A move that keeps copying runs as long as its copy takes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "10675199.02:48:05.4775807")]
    public TimeSpan ReplicaMoveTimeout { get; set; } = TimeSpan.FromMinutes(10);
}
