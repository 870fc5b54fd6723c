using System.Runtime.InteropServices;

namespace Pyralog.Storage.Native.Native;

/// <summary>
/// Lowers the calling thread's CPU and I/O priority (Linux: both are per thread). Lowering is always permitted; raising
/// it back would need CAP_SYS_NICE, so a thread lowers itself once, at its start.
/// </summary>
internal static partial class OsThreadPriority
{
    private const int PrioProcess = 0; // PRIO_PROCESS: with who = 0, the calling thread
    private const int SchedIdle = 5; // SCHED_IDLE
    private const int IoprioWhoProcess = 1; // IOPRIO_WHO_PROCESS: with who = 0, the calling thread
    private const int IoprioClassShift = 13;
    private const int IoprioClassBestEffort = 2;
    private const int IoprioClassIdle = 3;

    /// <summary>The calling thread's kernel thread id on Linux (what /proc/self/task lists); its managed id elsewhere.</summary>
    public static int CurrentThreadId() => OperatingSystem.IsLinux() ? gettid() : Environment.CurrentManagedThreadId;

    /// <summary>Applies <paramref name="priority"/> to the calling thread; throws <see cref="IOException"/> naming the call that failed.</summary>
    public static void Lower(BackgroundPriority priority)
    {
        switch (priority)
        {
            case BackgroundPriority.Normal:
                return;
            case BackgroundPriority.Low:
                Check(setpriority(PrioProcess, 0, 19), "setpriority(nice 19)");
                Check(ioprio_set(IoprioSetNumber, IoprioWhoProcess, 0, (IoprioClassBestEffort << IoprioClassShift) | 7), "ioprio_set(best-effort 7)");
                return;
            case BackgroundPriority.Idle:
                var parameter = 0; // struct sched_param { int sched_priority; }: 0 for SCHED_IDLE
                Check(sched_setscheduler(0, SchedIdle, ref parameter), "sched_setscheduler(SCHED_IDLE)");
                Check(ioprio_set(IoprioSetNumber, IoprioWhoProcess, 0, IoprioClassIdle << IoprioClassShift), "ioprio_set(idle class)");
                return;
            default:
                throw new ArgumentOutOfRangeException(nameof(priority), priority, "not a background priority");
        }
    }

    private static long IoprioSetNumber => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 30 : 251; // the syscall's number

    private static void Check(long result, string call)
    {
        if (result != 0)
        {
            throw new IOException($"{call} failed for a store background thread (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    [LibraryImport("libc")]
    private static partial int gettid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setpriority(int which, int who, int prio);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setscheduler(int pid, int policy, ref int parameter);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long ioprio_set(long number, long which, long who, long ioprio);
}
