namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// The replica asked to append (or to read linearizably) is not its partition's leader. <see cref="LeaderReplicaKey"/>
/// names the leader it knows (null while an election runs): retry there. Nothing was appended.
/// </summary>
[GenerateSerializer]
[Alias("pyralog.NotLeaderException")]
public sealed class NotLeaderException : Exception
{
    public NotLeaderException()
    {
    }

    public NotLeaderException(string message)
        : base(message)
    {
    }

    public NotLeaderException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public NotLeaderException(string replicaKey, string? leaderReplicaKey)
        : base(leaderReplicaKey is null
            ? $"replica {replicaKey} is not the leader and knows no leader yet (an election may be running); retry shortly"
            : $"replica {replicaKey} is not the leader; the leader is replica {leaderReplicaKey}")
    {
        LeaderReplicaKey = leaderReplicaKey;
    }

    /// <summary>The grain key of the leader the replica knows, or null.</summary>
    [Id(0)]
    public string? LeaderReplicaKey { get; init; }
}
