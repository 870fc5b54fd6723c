using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Pyralog.Silo.Hosting;

/// <summary>
/// Keeps every thread of this process under <c>SCHED_BATCH</c> (<see cref="CpuScheduling.Batch"/>, Linux only). A new
/// thread inherits its creator's policy from the kernel, but .NET sets the policy of each managed thread it starts
/// from a value glibc cached per thread before the change, so a thread started later (thread-pool workers come and
/// go with the load) may come up under <c>SCHED_OTHER</c>; every <see cref="Interval"/> the keeper moves such threads.
/// A pass asks the kernel for each listed thread's policy (one system call each) and moves those under <c>SCHED_OTHER</c>
/// and, where the kernel allows it, <c>SCHED_IDLE</c> (the store's arena warmer lowers itself so; a managed thread that
/// gets no CPU holds up the process's garbage collections on saturated cores). Leaving <c>SCHED_IDLE</c> needs
/// <c>CAP_SYS_NICE</c>: without it such a thread keeps its policy, and the keeper goes on (it used to stop there, leaving
/// every thread started later under the default). Moving from <c>SCHED_OTHER</c> to <c>SCHED_BATCH</c> needs no
/// privilege; if the kernel refuses that, the keeper logs why once and stops: the silo runs on under the default policy.
/// </summary>
internal sealed partial class ThreadScheduling(TimeProvider time, ILogger<ThreadScheduling> logger) : BackgroundService
{
    private const int SchedOther = 0; // SCHED_OTHER
    private const int SchedBatch = 3; // SCHED_BATCH
    private const int SchedIdle = 5; // SCHED_IDLE
    private const int NotPermitted = 1; // EPERM
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
            var policy = sched_getscheduler(tid);
            if (policy != SchedOther && policy != SchedIdle)
            {
                continue; // under SCHED_BATCH already, a real-time policy, or exited since it was listed
            }

            var parameter = 0; // struct sched_param { int sched_priority; }: 0 for SCHED_BATCH
            if (sched_setscheduler(tid, SchedBatch, ref parameter) != 0 && Marshal.GetLastPInvokeError() is var errno && errno != NoSuchThread)
            {
                if (policy == SchedIdle && errno == NotPermitted)
                {
                    continue; // without CAP_SYS_NICE it stays idle
                }

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
