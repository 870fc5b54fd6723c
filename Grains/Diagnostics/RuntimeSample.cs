namespace Pyralog.Grains.Diagnostics;

/// <summary>
/// What the runtime has done so far: GC pause time and collections, CPU time used by the process, thread-pool work
/// items completed, and the pool's threads and waiting work items now (see <see cref="ThreadPoolStallReport"/>).
/// </summary>
internal readonly record struct RuntimeSample(
    TimeSpan GcPause, int Gen0Collections, int Gen1Collections, int Gen2Collections, TimeSpan Cpu, long CompletedWorkItems, int Threads, long PendingWorkItems)
{
    public static RuntimeSample Now() => new(
        GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), Environment.CpuUsage.TotalTime,
        ThreadPool.CompletedWorkItemCount, ThreadPool.ThreadCount, ThreadPool.PendingWorkItemCount);
}
