using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Pyralog.Silo.Hosting;

/// <summary>
/// Keeps every thread of this process under <c>SCHED_BATCH</c> (<see cref="CpuScheduling.Batch"/>, Linux only). A new
/// thread inherits its creator's policy from the kernel, but .NET sets the policy of each managed thread it starts
/// from a value glibc cached per thread before the change, so a thread started later (thread-pool workers come and
/// go with the load) may come up under <c>SCHED_OTHER</c>; every <see cref="Interval"/> the keeper moves such threads.
/// A pass asks the kernel for each listed thread's policy (one system call each) and changes only those under
/// <c>SCHED_OTHER</c>: a thread that chose another policy for itself keeps it (the store's idle-priority threads run
/// under <c>SCHED_IDLE</c>, which a thread may leave only with <c>CAP_SYS_NICE</c>: moving them either undid their
/// priority or, refused, stopped the keeper). Moving from <c>SCHED_OTHER</c> to <c>SCHED_BATCH</c> needs no privilege.
/// If the kernel refuses it, the keeper logs why once and stops: the silo runs on under the default policy.
/// </summary>
internal sealed partial class ThreadScheduling(TimeProvider time, ILogger<ThreadScheduling> logger) : BackgroundService
{
    private const int SchedOther = 0; // SCHED_OTHER
    private const int SchedBatch = 3; // SCHED_BATCH
    private const int NoSuchThread = 3; // ESRCH: the thread exited since it was listed

    // How often threads started since the last pass are moved.
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            if (!MoveThreads())
            {
                return;
            }
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    /// <summary>One pass over this process's threads; false when the kernel refused a change (logged).</summary>
    private bool MoveThreads() => MoveThreads(ProcessThreads());

    /// <summary>One pass over <paramref name="threads"/> (kernel thread ids); false when the kernel refused a change (logged).</summary>
    internal bool MoveThreads(IEnumerable<int> threads)
    {
        foreach (var tid in threads)
        {
            if (sched_getscheduler(tid) != SchedOther)
            {
                continue; // under SCHED_BATCH already, a policy of its own, or exited since it was listed
            }

            var parameter = 0; // struct sched_param { int sched_priority; }: 0 for SCHED_BATCH
            if (sched_setscheduler(tid, SchedBatch, ref parameter) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != NoSuchThread)
            {
                LogRefused(logger, tid, errno);
                return false;
            }
        }

        return true;
    }

    private static IEnumerable<int> ProcessThreads()
    {
        foreach (var entry in Directory.EnumerateDirectories("/proc/self/task"))
        {
            if (int.TryParse(Path.GetFileName(entry), out var tid))
            {
                yield return tid;
            }
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo:CpuScheduling is Batch, but the kernel refused SCHED_BATCH for thread {ThreadId} (errno {Errno}); the silo's threads stay under the default policy")]
    private static partial void LogRefused(ILogger logger, int threadId, int errno);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_getscheduler(int pid);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setscheduler(int pid, int policy, ref int parameter);
}
