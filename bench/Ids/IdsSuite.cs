using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Pyralog.Bench.Harness;
using Pyralog.Client;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Grains.Obelisk;
using Pyralog.Silo.Hosting;
using Pyralog.Silo.Tests.Obelisk;
using Pyralog.Storage.Native.Obelisk;
using Pyralog.Testing;

namespace Pyralog.Bench.Ids;

/// <summary>
/// Scarab ID throughput: the obelisk in-process (1 and 2 threads), through PyralogClient against a silo running in
/// this process, the persistent counter alone, crash recovery, and the floor (Interlocked.Increment) and ceiling
/// (8,192 IDs per ms per obelisk) in the same run; and clients of a three-silo process cluster while one silo is
/// frozen or killed (the longest wait for one ID, target at most 1 s, with every ID checked).
/// </summary>
public sealed class IdsSuite : IBenchSuite
{
    private const string Suite = "ids";
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(3);

    public string Name => Suite;

    public string Description => "Scarab IDs: obelisk sequencer, client, floor and ceiling, clients under a frozen or killed silo";

    public async Task RunAsync(BenchReport report, CancellationToken cancellationToken)
    {
        var root = Directory.CreateTempSubdirectory("pyralog-bench-ids-").FullName;
        try
        {
            Floor(report);
            foreach (var @case in new[] { "sequencer-1-thread", "sequencer-2-threads", "client-one-obelisk" })
            {
                report.Add(Suite, @case, "ceiling", "ids/s", ScarabId.SequencesPerMillisecond * 1000.0, "ids/s");
            }

            Counter(report, root);
            Sequencer(report, root, threads: 1);
            Sequencer(report, root, threads: 2);
            Recovery(report, root);
            await Client(report, root, cancellationToken);
            await SiloFaultAsync(report, root, SiloFault.Freeze, "client-silo-frozen", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
            await SiloFaultAsync(report, root, SiloFault.Kill, "client-silo-killed", TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(5));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void Floor(BenchReport report)
    {
        long counter = 0;
        var sw = Stopwatch.StartNew();
        var deadline = Stopwatch.GetTimestamp() + (long)(Phase.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            for (var i = 0; i < 100_000; i++)
            {
                Interlocked.Increment(ref counter);
            }
        }

        report.Add(Suite, "sequencer-1-thread", "floor", "ids/s", counter / sw.Elapsed.TotalSeconds, "ids/s");
    }

    /// <summary>The persistent counter alone (no clock): what an ID costs in CPU, one fsync per reserved block included.</summary>
    private static void Counter(BenchReport report, string root)
    {
        using var sequencer = ObeliskSequencer.Create(Path.Combine(root, "counter.obelisk"), ObeliskNode.SequencerUnitShift, 250UL << ObeliskNode.SequencerUnitShift);
        long n = 0;
        var sw = Stopwatch.StartNew();
        var deadline = Stopwatch.GetTimestamp() + (long)(Phase.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            for (var i = 0; i < 100_000; i++)
            {
                sequencer.Next();
            }

            n += 100_000;
        }

        var seconds = sw.Elapsed.TotalSeconds;
        report.Add(Suite, "counter-1-thread", "pyralog", "ids/s", n / seconds, "ids/s");
        report.Add(Suite, "counter-1-thread", "pyralog", "ns/id", seconds * 1e9 / n, "ns");
        report.Add(Suite, "counter-1-thread", "pyralog", "fsyncs", sequencer.Extensions, "count");
    }

    private static void Sequencer(BenchReport report, string root, int threads)
    {
        using var sequencer = ObeliskSequencer.Create(Path.Combine(root, $"seq-{threads}.obelisk"), ObeliskNode.SequencerUnitShift, 250UL << ObeliskNode.SequencerUnitShift);
        var node = new ObeliskNode(1, sequencer, TimeProvider.System, TimeSpan.FromMilliseconds(5));
        var deadline = Stopwatch.GetTimestamp() + (long)(Phase.TotalSeconds * Stopwatch.Frequency);
        var sw = Stopwatch.StartNew();
        var workers = new Thread[threads];
        for (var t = 0; t < threads; t++)
        {
            workers[t] = new Thread(() =>
            {
                while (Stopwatch.GetTimestamp() < deadline)
                {
                    for (var i = 0; i < 10_000; i++)
                    {
                        node.Next();
                    }
                }
            });
            workers[t].Start();
        }

        foreach (var w in workers)
        {
            w.Join();
        }

        var name = threads == 1 ? "sequencer-1-thread" : $"sequencer-{threads}-threads";
        report.Add(Suite, name, "pyralog", "ids/s", node.Issued / sw.Elapsed.TotalSeconds, "ids/s");
    }

    /// <summary>Time from opening a counter file left by a crashed process to the first new ID.</summary>
    private static void Recovery(BenchReport report, string root)
    {
        var path = Path.Combine(root, "recover.obelisk");
        using (var sequencer = ObeliskSequencer.Create(path, ObeliskNode.SequencerUnitShift, 250UL << ObeliskNode.SequencerUnitShift))
        {
            new ObeliskNode(2, sequencer, TimeProvider.System, TimeSpan.FromMilliseconds(5)).NextBlock(1000);
        }

        var latencies = new LatencyRecorder(200);
        for (var i = 0; i < 200; i++)
        {
            var start = Stopwatch.GetTimestamp();
            using var sequencer = ObeliskSequencer.Recover(path, ObeliskNode.SequencerUnitShift, 250UL << ObeliskNode.SequencerUnitShift);
            new ObeliskNode(2, sequencer, TimeProvider.System, TimeSpan.FromMilliseconds(5)).Next();
            latencies.Record(Stopwatch.GetTimestamp() - start);
        }

        report.Add(Suite, "sequencer-recovery", "pyralog", "p50 us", latencies.PercentileMicros(50), "us");
        report.Add(Suite, "sequencer-recovery", "pyralog", "p99 us", latencies.PercentileMicros(99), "us");
    }

    private static async Task Client(BenchReport report, string root, CancellationToken cancellationToken)
    {
        var siloPort = TestPorts.Next();
        var gatewayPort = TestPorts.Next();
        using var silo = PyralogSiloHost.CreateBuilder(
            ["--data-dir", Path.Combine(root, "silo"), "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", "--http-port", $"{TestPorts.Next()}", "--cluster-id", "bench"]).Build();
        await silo.StartAsync(cancellationToken);
        try
        {
            await using var client = await PyralogClient.ConnectAsync(
                new PyralogClientOptions { GatewayPorts = [gatewayPort], ClusterId = "bench" }, cancellationToken);
            var generator = client.CreateIdGenerator(new ScarabIdGeneratorOptions { ObeliskIds = [7], PrefetchBlocks = 8 });
            for (var i = 0; i < 100_000; i++)
            {
                await generator.NextAsync(cancellationToken); // warm up: activation, JIT
            }

            long n = 0;
            var sw = Stopwatch.StartNew();
            var deadline = Stopwatch.GetTimestamp() + (long)(2 * Phase.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < deadline)
            {
                for (var i = 0; i < 10_000; i++)
                {
                    await generator.NextAsync(cancellationToken);
                }

                n += 10_000;
            }

            var seconds = sw.Elapsed.TotalSeconds;
            report.Add(Suite, "client-one-obelisk", "pyralog", "ids/s", n / seconds, "ids/s");
            report.Add(Suite, "client-one-obelisk", "pyralog", "ns/id", seconds * 1e9 / n, "ns");

            // Latency per call, timed separately so the timer does not slow the throughput phase.
            var latencies = new LatencyRecorder(2_000_000);
            for (var i = 0; i < 2_000_000; i++)
            {
                var start = Stopwatch.GetTimestamp();
                await generator.NextAsync(cancellationToken);
                latencies.Record(Stopwatch.GetTimestamp() - start);
            }

            report.Add(Suite, "client-one-obelisk", "pyralog", "p99 us", latencies.PercentileMicros(99), "us");
            report.Add(Suite, "client-one-obelisk", "pyralog", "p99.99 us", latencies.PercentileMicros(99.99), "us");
        }
        finally
        {
            await silo.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Three clients take IDs flat out from a three-silo process cluster; after 5 s the third silo is frozen
    /// (SIGSTOP, SIGCONT after <paramref name="faultPhase"/>) or killed. Every ID is checked.
    /// </summary>
    private static async Task SiloFaultAsync(BenchReport report, string root, SiloFault fault, string @case, TimeSpan faultPhase, TimeSpan afterFault)
    {
        var result = await ScarabIdFaultRun.RunAsync(
            Path.Combine(root, @case), fault, clients: 3, TimeSpan.FromSeconds(5), faultPhase, afterFault, line => Console.WriteLine($"  {@case}: {line}"));
        Console.WriteLine($"  {@case}: {result}");
        report.Add(Suite, @case, "pyralog", "max gap ms", result.MaxGapMilliseconds, "ms");
        report.Add(Suite, @case, "pyralog", "max gap at", result.MaxGapAfterFaultSeconds, "s after the fault");
        report.Add(Suite, @case, "pyralog", "max gap ms since fault", result.MaxGapSinceFaultMilliseconds, "ms");
        report.Add(Suite, @case, "pyralog", "ids/s", result.IdsPerSecond, "ids/s");
        report.Add(Suite, @case, "pyralog", "duplicates", result.Duplicates, "count");
        report.Add(Suite, @case, "pyralog", "out of order", result.OrderViolations, "count");
    }
}
