namespace Pyralog.Storage.Native.Memtables;

/// <summary>The records of one log inside one memtable: its runs, oldest first (a newer run wins where runs overlap).</summary>
internal sealed class MemtableLog(ulong id)
{
    private LogRun[] _runs = [];

    public ulong Id { get; } = id;

    public LogRun[] Runs => Volatile.Read(ref _runs);

    /// <summary>Bytes of every record appended (headers included, truncated ones too). Written by the writer only;
    /// read once the memtable is immutable, to decide whether the log gets a segment of its own at flush.</summary>
    public long Bytes { get; set; }

    /// <summary>The run that continues at <paramref name="offset"/>, started anew if the newest run ends elsewhere. Writer only.</summary>
    public LogRun RunFor(ulong offset, ulong sequence)
    {
        var runs = _runs;
        var last = runs.Length == 0 ? null : runs[^1];
        if (last is null || last.EndOffset != offset)
        {
            last = new LogRun(offset, sequence);
            Volatile.Write(ref _runs, [.. runs, last]);
        }

        return last;
    }
}
