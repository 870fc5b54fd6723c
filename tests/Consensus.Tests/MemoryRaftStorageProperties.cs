using FsCheck.Xunit;
using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>Model-based properties: the in-memory storage behaves like a plain list after a snapshot.</summary>
public sealed class MemoryRaftStorageProperties
{
    /// <summary>Each script byte is one operation: append (with truncation), compact, or install a snapshot.</summary>
    [Property(MaxTest = 300)]
    public bool BehavesLikeAListAfterASnapshot(byte[] script)
    {
        var storage = new MemoryRaftStorage();
        var model = new List<LogEntry>();
        long snapIndex = 0, snapTerm = 0, term = 0;
        foreach (var b in script)
        {
            switch (b % 5)
            {
                case 0 or 1 or 2:
                    {
                        var at = snapIndex + 1 + b / 5 % (model.Count + 1);
                        var count = 1 + b % 37;
                        term++;
                        var entries = new LogEntry[count];
                        for (var i = 0; i < count; i++)
                        {
                            entries[i] = new LogEntry(at + i, term, EntryType.Normal, new[] { b });
                        }

                        storage.Append(entries);
                        var keep = (int)(at - snapIndex - 1);
                        model.RemoveRange(keep, model.Count - keep);
                        model.AddRange(entries);
                        break;
                    }

                case 3 when model.Count > 0:
                    {
                        var drop = 1 + b / 5 % model.Count;
                        var last = model[drop - 1];
                        storage.Compact(new RaftSnapshot(last.Index, last.Term, ClusterConfig.Empty, ReadOnlyMemory<byte>.Empty));
                        model.RemoveRange(0, drop);
                        (snapIndex, snapTerm) = (last.Index, last.Term);
                        break;
                    }

                case 4:
                    {
                        term++;
                        snapIndex += model.Count + b % 3;
                        snapTerm = term;
                        storage.InstallSnapshot(new RaftSnapshot(snapIndex, snapTerm, ClusterConfig.Empty, ReadOnlyMemory<byte>.Empty));
                        model.Clear();
                        break;
                    }
            }

            if (storage.LastIndex != snapIndex + model.Count || storage.Term(snapIndex) != snapTerm)
            {
                return false;
            }

            if (model.Count > 0)
            {
                var read = new List<LogEntry>();
                storage.ReadEntries(snapIndex + 1, storage.LastIndex + 1, long.MaxValue, read);
                if (read.Count != model.Count)
                {
                    return false;
                }

                for (var i = 0; i < model.Count; i++)
                {
                    if (read[i].Index != model[i].Index || read[i].Term != model[i].Term || storage.Term(model[i].Index) != model[i].Term)
                    {
                        return false;
                    }
                }

                var limited = new List<LogEntry>();
                storage.ReadEntries(snapIndex + 1, storage.LastIndex + 1, 1, limited);
                if (limited.Count != 1)
                {
                    return false;
                }
            }
        }

        return true;
    }
}
