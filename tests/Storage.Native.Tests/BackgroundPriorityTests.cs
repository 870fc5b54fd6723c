using System.Globalization;
using System.Runtime.InteropServices;
using Pyralog.Storage.Native.Native;

namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// The flush and compaction threads run at <see cref="PyramidOptions.BackgroundPriority"/>, read back from the kernel
/// (/proc/self/task/TID/stat for the scheduling policy and nice value, ioprio_get for the I/O class and level). Linux only,
/// like the store's other tests of its system calls.
/// </summary>
public sealed partial class BackgroundPriorityTests
{
    private const int SchedOther = 0;
    private const int SchedIdle = 5;
    private const int IoprioBestEffort7 = (2 << 13) | 7;
    private const int IoprioIdle = 3 << 13;

    [Fact]
    public async Task Normal_leaves_the_workers_at_the_process_priority()
    {
        var (workers, _) = await OpenAndReadWorkersAsync(BackgroundPriority.Normal);
        var self = ReadThread(OsThreadPriority.CurrentThreadId());
        foreach (var worker in workers)
        {
            Assert.Equal((SchedOther, self.Nice, IoprioGet(OsThreadPriority.CurrentThreadId())), (worker.Policy, worker.Nice, worker.Ioprio));
        }
    }

    [Fact]
    public async Task Low_gives_the_workers_nice_19_and_the_lowest_best_effort_io()
    {
        var (workers, _) = await OpenAndReadWorkersAsync(BackgroundPriority.Low);
        foreach (var worker in workers)
        {
            Assert.Equal((SchedOther, 19, IoprioBestEffort7), (worker.Policy, worker.Nice, worker.Ioprio));
        }
    }

    [Fact]
    public async Task Idle_puts_the_workers_in_sched_idle_and_the_idle_io_class_and_they_still_flush()
    {
        var (workers, flushes) = await OpenAndReadWorkersAsync(BackgroundPriority.Idle);
        foreach (var worker in workers)
        {
            Assert.Equal((SchedIdle, IoprioIdle), (worker.Policy, worker.Ioprio));
        }

        Assert.True(flushes >= 1, $"the idle flush worker flushed {flushes} memtables");
        var caller = ReadThread(OsThreadPriority.CurrentThreadId());
        Assert.Equal(SchedOther, caller.Policy); // only the store's own workers were lowered
    }

    [Fact]
    public void A_priority_that_is_not_defined_is_refused_with_its_name()
    {
        var e = Assert.Throws<ArgumentException>(new PyramidOptions { BackgroundPriority = (BackgroundPriority)7 }.Validate);
        Assert.Equal("BackgroundPriority", e.ParamName);
        Assert.StartsWith("PyramidOptions.BackgroundPriority must be Normal, Low or Idle (was 7).", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Opens a store that swaps memtables quickly, writes until its flush worker has flushed, and reads both workers.</summary>
    private static async Task<(List<(int Policy, int Nice, int Ioprio)> Workers, long Flushes)> OpenAndReadWorkersAsync(BackgroundPriority priority)
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundPriority = priority, MemtableBytes = 64 << 10 });
        var payload = new byte[4096];
        for (ulong offset = 0; offset < 64; offset++)
        {
            await store.AppendAsync(1, 1, offset, payload); // 256 KiB: several memtables swap out to the flush worker
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((store.BackgroundThreadIds.Contains(0) || store.GetStatistics().Flushes == 0) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        var ids = store.BackgroundThreadIds;
        Assert.DoesNotContain(0, ids);
        var workers = ids.Select(id => { var t = ReadThread(id); return (t.Policy, t.Nice, IoprioGet(id)); }).ToList();
        return (workers, store.GetStatistics().Flushes);
    }

    /// <summary>Fields 19 (nice) and 41 (policy) of /proc/self/task/TID/stat, counted after the command name.</summary>
    private static (int Policy, int Nice) ReadThread(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (int.Parse(fields[41 - 3], CultureInfo.InvariantCulture), int.Parse(fields[19 - 3], CultureInfo.InvariantCulture));
    }

    private static int IoprioGet(int tid)
    {
        var number = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 31L : 252L;
        var result = syscall(number, 1, tid); // IOPRIO_WHO_PROCESS
        Assert.True(result >= 0, $"ioprio_get failed (errno {Marshal.GetLastPInvokeError()})");
        return (int)result;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long which, long who);
}
