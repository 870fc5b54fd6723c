namespace Pyralog.Silo.Hosting;

/// <summary>The Linux scheduling policy the silo process runs its threads under (<see cref="SiloHostOptions.CpuScheduling"/>).</summary>
public enum CpuScheduling
{
    /// <summary><c>SCHED_OTHER</c>, the operating system's default, left alone: a woken thread may preempt the running one at once.</summary>
    Normal,

    /// <summary>
    /// <c>SCHED_BATCH</c>: a thread that wakes does not preempt the thread running on its CPU; it runs when that one
    /// blocks or its time slice ends. The silo's threads hand work to each other and to other processes all the time,
    /// and each preemption is a context switch. No effect on other systems.
    /// </summary>
    Batch,
}
