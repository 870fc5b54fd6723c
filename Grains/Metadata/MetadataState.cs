using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// The metadata group's state machine: logs by name and the next log id. Small and rebuilt at activation by
/// replaying the group's log (no applied state is stored), so every replica derives the same ids in the same order.
/// </summary>
internal sealed class MetadataState : IReplicaStateMachine
{
    // Invariant: ids are assigned in apply order from 1 and never reused (log 0 is the metadata group itself).
    private readonly Dictionary<string, MetadataLog> _logs = new(StringComparer.Ordinal);
    private ulong _nextLogId = 1;

    public long AppliedIndex { get; private set; }

    public IReadOnlyCollection<MetadataLog> Logs => _logs.Values;

    public object? Apply(in LogEntry entry)
    {
        if (entry.Index <= AppliedIndex)
        {
            return null;
        }

        AppliedIndex = entry.Index;
        if (entry.Type != EntryType.Normal || entry.Data.IsEmpty)
        {
            return null;
        }

        return Apply(MetadataCommand.Decode(entry.Data.Span));
    }

    public void Restore(RaftSnapshot snapshot) =>
        throw new InvalidDataException("the metadata group never compacts its log, so no replica can be sent a snapshot of it");

    public bool HasUnwritten => false;

    public bool TakeUnwritten(WriteBatch write) => false;

    public void Written()
    {
    }

    public (long Index, byte[] Data)? TakeCompaction(RaftSnapshot current) => null;

    private MetadataResult Apply(MetadataCommand command)
    {
        switch (command.Kind)
        {
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

            case "delete":
                return _logs.Remove(command.Name!, out var removed)
                    ? new MetadataResult(removed, null)
                    : new MetadataResult(null, $"no log is named '{command.Name}'");

            default:
                return new MetadataResult(null, $"unknown metadata command '{command.Kind}'");
        }
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
