namespace Pyralog.Storage.Native;

/// <summary>
/// How the store's flush and compaction threads compete with the rest of the process for CPU and disk (Linux only; the
/// commit thread always runs at the process's own priority). Lowering them keeps a flush from delaying the commit
/// thread and the grains that wait on it, at a cost: under CPU or disk load from elsewhere a lowered flush falls behind,
/// and once <see cref="PyramidOptions.MaxImmutableMemtables"/> memtables wait for it, writes wait too.
/// </summary>
public enum BackgroundPriority
{
    /// <summary>The process's own CPU and I/O priority.</summary>
    Normal,

    /// <summary>Nice 19 and the lowest best-effort I/O level: a small share of a contended CPU, never none.</summary>
    Low,

    /// <summary>
    /// <c>SCHED_IDLE</c> and the idle I/O class: the threads run on CPU time nothing else wants, and their writes go to
    /// the disk when no other I/O is queued (the I/O scheduler's aging still dispatches them within seconds).
    /// </summary>
    Idle,
}
