using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Replication;

/// <summary>
/// One mover's run of the move of slot <paramref name="From"/> to slot <paramref name="To"/> in a partition, named by
/// <paramref name="Id"/> (random, non-zero) in the metadata group: its <c>move</c> takes the move over, and its
/// <c>moved</c> or <c>abandon-move</c> is refused once another run took it over (from metadata version 2, see
/// <see cref="MetadataCommand.Run"/>).
/// </summary>
internal readonly record struct MoveRun(ulong Log, int Partition, int From, int To, long Id)
{
    /// <summary>This run's metadata command of kind <paramref name="kind"/> (a <c>move</c> names the <paramref name="target"/> silo).</summary>
    public byte[] Command(string kind, string? target) =>
        new MetadataCommand { Kind = kind, LogId = Log, Partition = Partition, From = From, To = To, Silo = target, Run = Id }.Encode();

    /// <summary>Whether <paramref name="log"/> records this move, owned by this run or by none (a move recorded before runs).</summary>
    public bool Owns(MetadataLog log) => log.MoveIn(Partition) is { } move && move.Is(Partition, From, To) && (move.Run == 0 || move.Run == Id);
}
