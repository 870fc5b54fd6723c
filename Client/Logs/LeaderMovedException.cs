namespace Pyralog.Client.Logs;

/// <summary>
/// A request to a partition's leader went unanswered while another replica of the partition reported a newer leader:
/// the producer stops waiting for it. Like a timeout, its outcome is unknown (the batch may be in the log), so it is a
/// <see cref="TimeoutException"/>; unlike one, the new leader is known: <see cref="LeaderReplicaKey"/>.
/// </summary>
internal sealed class LeaderMovedException(string replicaKey, string leaderReplicaKey, TimeSpan waited)
    : TimeoutException($"replica {replicaKey} did not answer within {waited.TotalMilliseconds:0} ms and replica {leaderReplicaKey} leads now")
{
    public string LeaderReplicaKey { get; } = leaderReplicaKey;
}
