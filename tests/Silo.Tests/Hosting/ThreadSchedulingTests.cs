using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging.Abstractions;
using Pyralog.Silo.Hosting;

namespace Pyralog.Silo.Tests.Hosting;

/// <summary>The keeper that moves the silo's threads to SCHED_BATCH, over threads of the test process's own.</summary>
public sealed partial class ThreadSchedulingTests
{
    private const int Other = 0; // SCHED_OTHER
    private const int Batch = 3; // SCHED_BATCH
    private const int Idle = 5; // SCHED_IDLE

    [Fact]
    public void A_pass_moves_threads_under_SCHED_OTHER_and_SCHED_IDLE_and_carries_on_past_an_idle_thread_it_may_not_move()
    {
        Assert.True(OperatingSystem.IsLinux(), "the keeper and this test are for Linux");
        using var release = new ManualResetEventSlim();
        var idle = StartThread(release, Idle); // as the store's background threads and its arena warmer do
        var other = StartThread(release, Other);
        try
        {
            Assert.Equal(Idle, sched_getscheduler(idle));
            Assert.Equal(Other, sched_getscheduler(other));

            // Moving a thread out of SCHED_IDLE needs CAP_SYS_NICE: without it the thread stays idle and the pass goes on
            // (it used to stop the keeper for good, the idle thread listed before the other).
            Assert.True(new ThreadScheduling(TimeProvider.System, NullLogger<ThreadScheduling>.Instance).MoveThreads([idle, other]));
            Assert.Equal(CanLeaveIdle() ? Batch : Idle, sched_getscheduler(idle));
            Assert.Equal(Batch, sched_getscheduler(other));
        }
        finally
        {
            release.Set();
        }
    }

    /// <summary>Whether this process may move a thread out of SCHED_IDLE: CAP_SYS_NICE (bit 23) in its effective capabilities.</summary>
    private static bool CanLeaveIdle() =>
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("CapEff:", StringComparison.Ordinal)) is var line &&
        (Convert.ToUInt64(line["CapEff:".Length..].Trim(), 16) & (1UL << 23)) != 0;

    /// <summary>A thread under <paramref name="policy"/> that waits for <paramref name="release"/>; its kernel thread id.</summary>
    private static int StartThread(ManualResetEventSlim release, int policy)
    {
        var tid = 0;
        using var started = new ManualResetEventSlim();
        new Thread(() =>
        {
            var parameter = 0;
            if (policy != Other && sched_setscheduler(0, policy, ref parameter) != 0)
            {
                throw new InvalidOperationException($"sched_setscheduler({policy}) failed (errno {Marshal.GetLastPInvokeError()})");
            }

            tid = gettid();
            started.Set();
            release.Wait();
        })
        { IsBackground = true }.Start();
        started.Wait();
        return tid;
    }

    [LibraryImport("libc")]
    private static partial int gettid();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_getscheduler(int pid);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sched_setscheduler(int pid, int policy, ref int parameter);
}
