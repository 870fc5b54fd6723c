using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Pyralog.Grains.Diagnostics;

/// <summary>
/// Says why the .NET thread pool stalled, when it does. Orleans reports that it stalled (LocalSiloHealthMonitor); a silo
/// whose pool stalls answers nothing, so its replicas fall silent and groups that need their votes cannot elect, and the
/// causes call for different fixes: a GC pause (its pause time covers the stall), pool threads blocked in synchronous
/// waits (threads added, work items waiting, the CPU used elsewhere or not at all), or a machine that gives the process
/// no CPU (little CPU used, nothing completed). A dedicated thread (it must run while the pool does not) queues a probe
/// work item every <see cref="ProbeInterval"/>; when one starts more than <see cref="Threshold"/> after it was queued, one
/// warning gives the stall's length and what the runtime did over it (<see cref="RuntimeSample"/>).
/// </summary>
internal sealed class ThreadPoolStallReport : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(250);
    public static readonly TimeSpan Threshold = TimeSpan.FromSeconds(1);

    private readonly ILogger<ThreadPoolStallReport> _logger;
    private readonly TimeProvider _time;
    private readonly Action<Action> _queue;
    private readonly Func<RuntimeSample> _sample;
    // Set when the silo stops (or the report is disposed, which may come first); the watching thread then ends. No spin
    // before each wait: the default spin (sched_yield and sleeps before blocking) made this thread, waking four times a
    // second, 7 % of three idle silos' CPU (perf).
    private readonly ManualResetEventSlim _stopping = new(false, spinCount: 0);
    private Thread? _thread;
    private int _disposed;

    // Invariant: the probe queued and not yet judged, with the time and runtime sample of its queueing; null between
    // probes. Only the watching thread (Check) reads and writes it; the probe itself only sets _ranAt.
    private (long QueuedAt, RuntimeSample Before)? _probe;

    // When the pending probe started (a TimeProvider timestamp), 0 while it waits. Written by a pool thread.
    private long _ranAt;

    public ThreadPoolStallReport(ILogger<ThreadPoolStallReport> logger, TimeProvider time)
        : this(logger, time, work => ThreadPool.UnsafeQueueUserWorkItem(static w => w(), work, preferLocal: false), RuntimeSample.Now)
    {
    }

    internal ThreadPoolStallReport(ILogger<ThreadPoolStallReport> logger, TimeProvider time, Action<Action> queue, Func<RuntimeSample> sample)
    {
        _logger = logger;
        _time = time;
        _queue = queue;
        _sample = sample;
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ThreadPoolStallReport), ServiceLifecycleStage.RuntimeInitialize, Start, Stop);

    /// <summary>Judges the pending probe if it has started, and queues the next one when none is pending.</summary>
    internal void Check()
    {
        if (_probe is { } probe)
        {
            var ranAt = Volatile.Read(ref _ranAt);
            if (ranAt == 0)
            {
                return; // still waiting: judged once it starts, with the whole stall
            }

            var waited = _time.GetElapsedTime(probe.QueuedAt, ranAt);
            if (waited >= Threshold)
            {
                Report(waited, probe.Before, _sample());
            }

            _probe = null;
        }

        Volatile.Write(ref _ranAt, 0);
        _probe = (_time.GetTimestamp(), _sample());
        _queue(() => Volatile.Write(ref _ranAt, _time.GetTimestamp()));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stopping.Set();
            _thread?.Join();
            _stopping.Dispose();
        }
    }

    private void Report(TimeSpan stall, RuntimeSample before, RuntimeSample after)
    {
        var inv = CultureInfo.InvariantCulture;
        _logger.LogWarning(
            "The .NET thread pool started nothing for {Stall} ms; meanwhile GC paused the process for {GcPause} ms ({Collections} collections of generations 0/1/2), " +
            "the process used {Cpu} ms of CPU, the pool completed {Completed} work items and now has {Threads} threads ({ThreadsAdded:+0;-0;0}) and {Pending} work items waiting",
            stall.TotalMilliseconds.ToString("0", inv),
            (after.GcPause - before.GcPause).TotalMilliseconds.ToString("0", inv),
            string.Create(inv, $"{after.Gen0Collections - before.Gen0Collections}/{after.Gen1Collections - before.Gen1Collections}/{after.Gen2Collections - before.Gen2Collections}"),
            (after.Cpu - before.Cpu).TotalMilliseconds.ToString("0", inv),
            after.CompletedWorkItems - before.CompletedWorkItems,
            after.Threads,
            after.Threads - before.Threads,
            after.PendingWorkItems);
    }

    private Task Start(CancellationToken cancellationToken)
    {
        _thread = new Thread(Watch) { IsBackground = true, Name = "pyralog-pool-watch" };
        _thread.Start();
        return Task.CompletedTask;
    }

    private Task Stop(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    private void Watch()
    {
        do
        {
            Check();
        }
        while (!_stopping.Wait(ProbeInterval));
    }
}
