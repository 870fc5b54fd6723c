namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>A log as the metadata group records it. <see cref="Id"/> is assigned by the metadata group and never reused.</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.LogInfo")]
public sealed record LogInfo(
    [property: Id(0)] ulong Id,
    [property: Id(1)] string Name,
    [property: Id(2)] int Partitions,
    [property: Id(3)] int ReplicationFactor,
    [property: Id(4)] LogSettings Settings,
    [property: Id(5)] LogState State)
{
    /// <summary>The grain key of replica <paramref name="replica"/> of <paramref name="partition"/>.</summary>
    public string ReplicaKey(int partition, int replica) => ReplicaGrainKey.Of(Id, partition, replica);
}
