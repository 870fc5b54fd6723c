namespace Pyralog.Grains.Metadata;

/*
 * Metadata versions: how builds of different ages share one metadata group during a rolling upgrade.
 *
 * Every replica of the group must apply every entry the same way, or their states part for good. A build that meets a
 * command it does not know cannot do that, and one that drops a field it does not know (JSON does) applies another
 * command than the one committed. So the group records a version (MetadataState.Version, 1 for a group older than
 * versions), and:
 *   - A command kind, and a field a version adds to a kind, is proposed only once the group's version is at least the
 *     one that brought it (MetadataReplicaGrain refuses it before proposing; the state ignores a field below its version,
 *     as a build that does not know it would). A proposal of a kind this build does not know is refused too, so no
 *     caller of the silo-internal commit call can stop the group.
 *   - The version rises by a "metadata-version" command, which the metadata leader's silo commits once every active
 *     silo says it applies that version (MetadataVersionUpgrade): from then on no build that cannot apply the group's
 *     commands is among its replicas, short of an operator downgrading one.
 *   - A replica that meets an entry it cannot apply (an unknown kind, a version above its own) or a snapshot of a
 *     version above its own throws InvalidDataException: it stops and retries until its silo runs a newer build, as a
 *     partition replica does with an unknown entry kind. Guessing would let it diverge silently.
 * The snapshot format follows the group's version too (MetadataSnapshotCodec writes the old format below version 2),
 * so an older follower can install a newer leader's snapshot until the version rises.
 */
internal static class MetadataVersion
{
    /// <summary>The version of a group that recorded none: the commands of the builds before versions.</summary>
    public const int First = 1;

    /// <summary>Replica moves carry the run of the mover that owns them (<see cref="MetadataCommand.Run"/>).</summary>
    public const int MoveRuns = 2;

    /// <summary>The highest version this build applies, and the one it asks the group to reach.</summary>
    public const int Latest = MoveRuns;

    /// <summary>The command kind that raises the group's version.</summary>
    public const string RaiseKind = "metadata-version";

    /// <summary>The version that brought command kind <paramref name="kind"/>, or 0 when this build does not know it.</summary>
    public static int Of(string? kind) => kind switch
    {
        "create" or "incarnations" or "homes" or "activate" or "delete" or "move" or "moved" or "abandon-move" or "rehome" => First,
        RaiseKind => First,
        _ => 0,
    };
}
