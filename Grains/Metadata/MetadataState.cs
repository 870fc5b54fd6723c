using System.Diagnostics;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Placement;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// The metadata group's state machine: logs by name and the next log id. Every replica derives the same ids in the
/// same order by applying the group's log. Nothing applied is stored beside the log: a replica rebuilds the state at
/// activation from its snapshot (if any) and the entries after it. Every <see cref="SnapshotEveryEntries"/> applied
/// entries it asks for the log to be compacted to its applied index, the snapshot being this whole state
/// (<see cref="MetadataSnapshotCodec"/>), so neither the log nor a restart's replay grows without bound.
/// </summary>
internal sealed class MetadataState : IReplicaStateMachine
{
    /// <summary>
    /// Applied entries between snapshots. Partitions compact when retention asks, with no count to follow; here a
    /// snapshot is the whole state (logs are few, a few hundred bytes each without their incarnations), so taking one
    /// every few hundred entries costs little and keeps a restart's replay and a lagging follower's catch-up short.
    /// </summary>
    public const int SnapshotEveryEntries = 256;

    // Invariant: ids are assigned in apply order from 1 and never reused (log 0 is the metadata group itself).
    private readonly Dictionary<string, MetadataLog> _logs = new(StringComparer.Ordinal);
    private readonly int _snapshotEvery;
    private readonly int _latest;
    private ulong _nextLogId = 1;

    public MetadataState()
        : this(SnapshotEveryEntries)
    {
    }

    /// <summary>
    /// A state that asks for a snapshot every <paramref name="snapshotEvery"/> applied entries (tests take them sooner),
    /// of a build that applies metadata versions up to <paramref name="latest"/> (tests play an older build).
    /// </summary>
    internal MetadataState(int snapshotEvery, int latest = MetadataVersion.Latest)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(snapshotEvery, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(latest, MetadataVersion.First);
        _snapshotEvery = snapshotEvery;
        _latest = latest;
    }

    public long AppliedIndex { get; private set; }

    /// <summary>
    /// The group's metadata version (<see cref="MetadataVersion"/>). Invariant: it only rises, by applied
    /// <c>metadata-version</c> commands, and never above what this build applies (an entry or snapshot that would
    /// raise it further throws instead).
    /// </summary>
    public int Version { get; private set; } = MetadataVersion.First;

    /// <summary>The id the next created log gets.</summary>
    public ulong NextLogId => _nextLogId;

    public IReadOnlyCollection<MetadataLog> Logs => _logs.Values;

    public object? Apply(in LogEntry entry)
    {
        if (entry.Index <= AppliedIndex)
        {
            return null;
        }

        if (entry.Type != EntryType.Normal || entry.Data.IsEmpty)
        {
            AppliedIndex = entry.Index;
            return null;
        }

        // Checked before the index moves: a replica that cannot apply the entry must not count it applied.
        var command = MetadataCommand.Decode(entry.Data.Span);
        if (MetadataVersion.Of(command.Kind) == 0)
        {
            throw new InvalidDataException($"metadata entry {entry.Index} is a '{command.Kind}' command, which this build does not know " +
                "(a newer build's): this replica applies nothing more until its silo runs a build that does");
        }

        if (command.Kind == MetadataVersion.RaiseKind && command.Version > _latest)
        {
            throw new InvalidDataException($"metadata entry {entry.Index} raises the metadata version to {command.Version}, above the {_latest} " +
                "this build applies: this replica applies nothing more until its silo runs a build that does");
        }

        AppliedIndex = entry.Index;
        return Apply(command);
    }

    /// <summary>
    /// Why <paramref name="command"/> must not be proposed to a group in this state, or null: a kind this build does not
    /// know (its replicas would stop at it), or one the group's version does not have yet (older builds may still hold
    /// replicas), or a version this build cannot reach.
    /// </summary>
    public string? Refusal(MetadataCommand command)
    {
        var since = MetadataVersion.Of(command.Kind);
        if (since == 0)
        {
            return $"unknown metadata command kind '{command.Kind}'";
        }

        if (since > Version)
        {
            return $"metadata command '{command.Kind}' needs metadata version {since}; the group is at version {Version} until every silo runs a build that applies it";
        }

        return command.Kind == MetadataVersion.RaiseKind && (command.Version < MetadataVersion.First || command.Version > _latest)
            ? $"cannot raise the metadata version to {command.Version}: this build applies versions {MetadataVersion.First} to {_latest}"
            : null;
    }

    /// <summary>The state of a replica whose Raft state <paramref name="storage"/> holds: its snapshot's, if it has one (the node then hands out the entries after it).</summary>
    /// <exception cref="InvalidDataException">The stored snapshot is damaged.</exception>
    public static MetadataState Open(ReplicaStorage storage)
    {
        var state = new MetadataState();
        if (storage.Metadata.Snapshot is { Index: > 0 } snapshot)
        {
            state.Restore(snapshot);
        }

        return state;
    }

    /// <exception cref="InvalidDataException">The snapshot's data is damaged (the state is left as it was).</exception>
    public void Restore(RaftSnapshot snapshot)
    {
        var (version, nextLogId, logs) = MetadataSnapshotCodec.Decode(snapshot.Data.Span);
        if (version > _latest)
        {
            throw new InvalidDataException($"the metadata snapshot at index {snapshot.Index} is of metadata version {version}, above the {_latest} " +
                "this build applies: this replica applies nothing more until its silo runs a build that does");
        }

        _logs.Clear();
        foreach (var log in logs)
        {
            _logs.Add(log.Info.Name, log);
        }

        _nextLogId = nextLogId;
        Version = version;
        AppliedIndex = snapshot.Index;
    }

    public bool HasUnwritten => false;

    public bool TakeUnwritten(WriteBatch write) => false;

    public void Written()
    {
    }

    /// <summary>A snapshot at the applied index, once <see cref="SnapshotEveryEntries"/> entries were applied since <paramref name="current"/>.</summary>
    public (long Index, byte[] Data)? TakeCompaction(RaftSnapshot current) =>
        AppliedIndex - current.Index >= _snapshotEvery ? (AppliedIndex, EncodeSnapshot()) : null;

    /// <summary>This state as snapshot data.</summary>
    public byte[] EncodeSnapshot() => MetadataSnapshotCodec.Encode(Version, _nextLogId, _logs.Values);

    private MetadataResult Apply(MetadataCommand command)
    {
        if (MetadataVersion.Of(command.Kind) > Version)
        {
            // Proposed past the proposer's check (which refuses it): no replica of any build changes anything for it.
            return new MetadataResult(null, Refusal(command));
        }

        switch (command.Kind)
        {
            case MetadataVersion.RaiseKind:
                Version = Math.Max(Version, command.Version);
                return new MetadataResult(null, null);

            case "create":
            {
                var name = command.Name!;
                if (_logs.TryGetValue(name, out var existing))
                {
                    var info = existing.Info;
                    var wanted = command.Settings();
                    return info.Partitions == command.Partitions && info.ReplicationFactor == command.ReplicationFactor && info.Settings == wanted
                        ? new MetadataResult(existing, null)
                        : new MetadataResult(existing, $"log '{name}' exists with {info.Partitions} partitions, RF {info.ReplicationFactor}, " +
                            $"{info.Settings.Describe()} (asked: {command.Partitions} partitions, RF {command.ReplicationFactor}, {wanted.Describe()})");
                }

                var settings = command.Settings();
                var created = new MetadataLog(new LogInfo(_nextLogId++, name, command.Partitions, command.ReplicationFactor, settings, LogState.Creating), null);
                _logs[name] = created;
                return new MetadataResult(created, null);
            }

            case "incarnations":
            {
                if (Find(command.LogId) is not { } log)
                {
                    return new MetadataResult(null, $"log {command.LogId} no longer exists");
                }

                if (log.Incarnations is null)
                {
                    log = log with { Incarnations = command.Incarnations };
                    _logs[log.Info.Name] = log;
                }

                return new MetadataResult(log, null);
            }

            case "activate":
            {
                if (Find(command.LogId) is not { } log)
                {
                    return new MetadataResult(null, $"log {command.LogId} no longer exists");
                }

                log = log with { Info = log.Info with { State = LogState.Active } };
                _logs[log.Info.Name] = log;
                return new MetadataResult(log, null);
            }

            case "homes":
            {
                if (Find(command.LogId) is not { } log)
                {
                    return new MetadataResult(null, $"log {command.LogId} no longer exists");
                }

                if (log.Homes is null)
                {
                    if (command.Homes is not { } endpoints || endpoints.Length != log.Info.Partitions ||
                        endpoints.Any(p => p.Length != log.Info.ReplicationFactor))
                    {
                        return new MetadataResult(log, $"homes for log {command.LogId} must name {log.Info.ReplicationFactor} silos for each of its {log.Info.Partitions} partitions");
                    }

                    ReplicaHomes homes;
                    try
                    {
                        homes = ReplicaHomes.Of(endpoints);
                    }
                    catch (ArgumentException e)
                    {
                        return new MetadataResult(log, $"homes for log {command.LogId}: {e.Message}");
                    }

                    log = WithHomes(log, homes, log.Moves);
                }

                return new MetadataResult(log, null);
            }

            case "move":
                return Move(command);

            case "moved":
            case "abandon-move":
                return EndMove(command);

            case "rehome":
                return Rehome(command);

            case "delete":
                if (_logs.TryGetValue(command.Name!, out var named) && (command.LogId == 0 || named.Info.Id == command.LogId))
                {
                    _logs.Remove(command.Name!);
                    return new MetadataResult(named, null);
                }

                // A delete of a log id that is gone was done before (a retry of a delete whose outcome was unknown): ids are
                // never reused, so it succeeds with nothing to remove, and never removes a log created since under the name.
                return command.LogId != 0 ? new MetadataResult(null, null) : new MetadataResult(null, $"no log is named '{command.Name}'");

            default:
                throw new UnreachableException($"metadata command kind '{command.Kind}' is known to MetadataVersion but not applied");
        }
    }

    /// <summary>Starts a move: slot To gets its home at Silo beside slot From (idempotent while the same move runs).</summary>
    private MetadataResult Move(MetadataCommand command)
    {
        if (Find(command.LogId) is not { } log)
        {
            return new MetadataResult(null, $"log {command.LogId} no longer exists");
        }

        var (p, from, to, silo) = (command.Partition, command.From, command.To, command.Silo);
        if (log.Homes is not { } homes || p < 0 || p >= log.Info.Partitions || silo is null)
        {
            return new MetadataResult(log, $"log {log.Info.Name} has no partition {p} with recorded homes to move a replica of");
        }

        var run = RunOf(command);
        if (log.MoveIn(p) is { } running)
        {
            if (!running.Is(p, from, to) || homes.Home(p, to) != silo)
            {
                return new MetadataResult(log, $"partition {p} of log {log.Info.Name} is already moving slot {running.From} to slot {running.To}");
            }

            // The same move from another run (a mover resuming it): that run owns it from now on.
            return running.Run == run
                ? new MetadataResult(log, null)
                : new MetadataResult(WithHomes(log, homes, [.. log.Moves!.Select(m => m == running ? running with { Run = run } : m)]), null);
        }

        if (homes.Home(p, from) is null || to < 0 || to >= ReplicaGrainKey.MaxReplicationFactor || homes.Home(p, to) is not null)
        {
            return new MetadataResult(log, $"partition {p} of log {log.Info.Name} cannot move slot {from} to slot {to}: slots {string.Join(",", log.Info.ReplicaSlots(p))} hold replicas");
        }

        if (homes.SlotOn(p, silo) >= 0)
        {
            return new MetadataResult(log, $"partition {p} of log {log.Info.Name} already has a replica on {silo}");
        }

        ReplicaHomes moved;
        try
        {
            moved = homes.With(p, to, silo);
        }
        catch (ArgumentException e)
        {
            return new MetadataResult(log, $"partition {p} of log {log.Info.Name} cannot move slot {from} to {silo}: {e.Message}");
        }

        log = WithHomes(log, moved, [.. log.Moves ?? [], new ReplicaMove(p, from, to, run)]);
        return new MetadataResult(log, null);
    }

    /// <summary>
    /// Ends a move: "moved" drops slot From (the move is done), "abandon-move" drops slot To (idempotent once ended);
    /// refused when another run owns the move (any run ends one recorded before runs).
    /// </summary>
    private MetadataResult EndMove(MetadataCommand command)
    {
        if (Find(command.LogId) is not { } log)
        {
            return new MetadataResult(null, $"log {command.LogId} no longer exists");
        }

        var (p, from, to) = (command.Partition, command.From, command.To);
        var gone = command.Kind == "moved" ? from : to;
        if (log.MoveIn(p) is not { } move || !move.Is(p, from, to) || log.Homes is not { } homes)
        {
            return log.Homes?.Home(p, gone) is null
                ? new MetadataResult(log, null)
                : new MetadataResult(log, $"partition {p} of log {log.Info.Name} is not moving slot {from} to slot {to}");
        }

        if (move.Run != 0 && move.Run != RunOf(command))
        {
            return new MetadataResult(log, $"the move of slot {from} to slot {to} of partition {p} of log {log.Info.Name} is run by another mover now");
        }

        var moves = log.Moves!.Where(m => m != move).ToArray();
        log = WithHomes(log, homes.With(p, gone, null), moves.Length == 0 ? null : moves);
        return new MetadataResult(log, null);
    }

    // A command's move run, ignored below the version that brought it (as a build that does not know the field drops it).
    private long RunOf(MetadataCommand command) => Version >= MetadataVersion.MoveRuns ? command.Run : 0;

    /// <summary>Records where a replica whose home silo is gone runs now (idempotent once recorded).</summary>
    private MetadataResult Rehome(MetadataCommand command)
    {
        if (Find(command.LogId) is not { } log)
        {
            return new MetadataResult(null, $"log {command.LogId} no longer exists");
        }

        var (p, slot, silo) = (command.Partition, command.From, command.Silo);
        if (log.Homes is not { } homes || p < 0 || p >= log.Info.Partitions || silo is null || homes.Home(p, slot) is not { } home)
        {
            return new MetadataResult(log, $"log {log.Info.Name} has no replica {p}/{slot} with a recorded home");
        }

        if (home == silo)
        {
            return new MetadataResult(log, null);
        }

        if (home != command.PreviousSilo || log.MoveIn(p) is not null || homes.SlotOn(p, silo) >= 0)
        {
            return new MetadataResult(log, $"replica {p}/{slot} of log {log.Info.Name} cannot be rehomed from {command.PreviousSilo} to {silo}: its home is {home}" +
                (log.MoveIn(p) is null ? "" : ", a move is under way") + (homes.SlotOn(p, silo) >= 0 ? $", {silo} holds another replica of the partition" : ""));
        }

        ReplicaHomes rehomed;
        try
        {
            rehomed = homes.With(p, slot, silo);
        }
        catch (ArgumentException e)
        {
            return new MetadataResult(log, $"replica {p}/{slot} of log {log.Info.Name} cannot be rehomed to {silo}: {e.Message}");
        }

        return new MetadataResult(WithHomes(log, rehomed, log.Moves), null);
    }

    private MetadataLog WithHomes(MetadataLog log, ReplicaHomes homes, ReplicaMove[]? moves)
    {
        homes = homes with { Version = AppliedIndex };
        log = log with { Info = log.Info with { SlotMasks = homes.SlotMasks() }, Homes = homes, Moves = moves };
        _logs[log.Info.Name] = log;
        return log;
    }

    private MetadataLog? Find(ulong id)
    {
        foreach (var log in _logs.Values)
        {
            if (log.Info.Id == id)
            {
                return log;
            }
        }

        return null;
    }
}
