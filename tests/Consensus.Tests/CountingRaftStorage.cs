using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>A <see cref="MemoryRaftStorage"/> that counts the entries the node reads back from it.</summary>
internal sealed class CountingRaftStorage(MemoryRaftStorage inner) : IRaftStorage
{
    public MemoryRaftStorage Inner { get; } = inner;

    public long EntriesRead { get; private set; }

    public HardState HardState => Inner.HardState;

    public LogMetadata Metadata => Inner.Metadata;

    public void ReadEntries(long lo, long hi, long maxBytes, List<LogEntry> into)
    {
        var before = into.Count;
        Inner.ReadEntries(lo, hi, maxBytes, into);
        EntriesRead += into.Count - before;
    }
}
