namespace Pyralog.Grains.Metadata;

/// <summary>
/// A replica move under way in partition <paramref name="Partition"/>: slot <paramref name="From"/> is being replaced
/// by slot <paramref name="To"/>, whose home is the target silo. Both slots have homes until the move completes.
/// <paramref name="Run"/> names the mover run that owns it (0 below metadata version 2, see <see cref="MetadataCommand.Run"/>).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReplicaMove")]
public sealed record ReplicaMove([property: Id(0)] int Partition, [property: Id(1)] int From, [property: Id(2)] int To, [property: Id(3)] long Run = 0)
{
    /// <summary>Whether this is the move of slot <paramref name="from"/> to slot <paramref name="to"/> in <paramref name="partition"/>, whichever run owns it.</summary>
    public bool Is(int partition, int from, int to) => Partition == partition && From == from && To == to;
}
