using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// A log in the metadata group's state: what the admin shows, the founding incarnation of each replica (per partition,
/// per slot; null until recorded), where each replica lives (null until recorded) and the replica moves under way
/// (at most one per partition).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.MetadataLog")]
public sealed record MetadataLog(
    [property: Id(0)] LogInfo Info,
    [property: Id(1)] long[][]? Incarnations,
    [property: Id(2)] ReplicaHomes? Homes = null,
    [property: Id(3)] ReplicaMove[]? Moves = null)
{
    /// <summary>The move under way in <paramref name="partition"/>, if any.</summary>
    public ReplicaMove? MoveIn(int partition)
    {
        foreach (var move in Moves ?? [])
        {
            if (move.Partition == partition)
            {
                return move;
            }
        }

        return null;
    }
}
