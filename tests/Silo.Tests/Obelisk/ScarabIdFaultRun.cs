using System.Diagnostics;
using Pyralog.Client;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>
/// A three-silo process cluster on 127.0.0.1 (development membership) and clients taking Scarab IDs continuously,
/// each with a default generator, while one non-primary silo is frozen (SIGSTOP, SIGCONT after the fault phase) or
/// killed. Development membership keeps its table on the primary, which must survive, so the fault hits the third
/// silo. Shared by the Slow tests and the <c>ids</c> bench (linked into it).
/// </summary>
internal static class ScarabIdFaultRun
{
    public static async Task<ScarabIdFaultResult> RunAsync(
        string root,
        SiloFault fault,
        int clients,
        TimeSpan beforeFault,
        TimeSpan faultPhase,
        TimeSpan afterFault,
        Action<string> log)
    {
        var ports = new int[6];
        for (var i = 0; i < ports.Length; i++)
        {
            ports[i] = TestPorts.Next();
        }

        var clusterId = $"faults-{ports[0]}";
        string[] args = ["--membership", "development", "--primary-port", $"{ports[0]}", "--cluster-id", clusterId];
        var silos = new List<SiloProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                silos.Add(await SiloProcess.StartAsync(Path.Combine(root, $"silo{i}"), ports[2 * i], ports[2 * i + 1], args));
            }

            log($"3 silos up (cluster {clusterId}); {clients} clients take IDs");
            var connections = new List<PyralogClient>();
            try
            {
                for (var i = 0; i < clients; i++)
                {
                    connections.Add(await PyralogClient.ConnectAsync(new PyralogClientOptions
                    {
                        Membership = MembershipMode.Development,
                        GatewayPorts = [ports[1], ports[3], ports[5]],
                        ClusterId = clusterId,
                        ConnectTimeout = TimeSpan.FromSeconds(30),
                    }));
                }

                return await TakeIdsAsync(connections, silos[2], fault, beforeFault, faultPhase, afterFault, log);
            }
            finally
            {
                foreach (var connection in connections)
                {
                    await connection.DisposeAsync();
                }
            }
        }
        finally
        {
            foreach (var silo in silos)
            {
                if (fault == SiloFault.Freeze)
                {
                    silo.Thaw(); // never leave a stopped process behind, whatever failed
                }

                silo.Dispose();
            }
        }
    }

    private static async Task<ScarabIdFaultResult> TakeIdsAsync(
        List<PyralogClient> connections,
        SiloProcess victim,
        SiloFault fault,
        TimeSpan beforeFault,
        TimeSpan faultPhase,
        TimeSpan afterFault,
        Action<string> log)
    {
        using var stop = new CancellationTokenSource();
        var checkers = new ScarabIdChecker[connections.Count];
        var takers = new Task[connections.Count];
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < connections.Count; i++)
        {
            var checker = checkers[i] = new ScarabIdChecker();
            var generator = connections[i].CreateIdGenerator(new ScarabIdGeneratorOptions());
            takers[i] = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var before = Stopwatch.GetTimestamp();
                    ScarabId id;
                    try
                    {
                        id = await generator.NextAsync(stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        // The end of the run interrupted a wait: it still counts, as long as it lasted.
                        checker.RecordWait(before, Stopwatch.GetTimestamp());
                        return;
                    }

                    checker.Record(id, before, Stopwatch.GetTimestamp());
                }
            });
        }

        await Task.Delay(beforeFault);
        var faultAt = Stopwatch.GetTimestamp();
        foreach (var checker in checkers)
        {
            checker.FaultAt = faultAt;
        }

        if (fault == SiloFault.Freeze)
        {
            victim.Freeze();
            log($"silo 3 frozen (SIGSTOP) for {faultPhase.TotalSeconds:0} s");
            await Task.Delay(faultPhase);
            victim.Thaw();
            log("silo 3 thawed (SIGCONT)");
        }
        else
        {
            victim.Process.Kill();
            log("silo 3 killed (SIGKILL)");
            await Task.Delay(faultPhase);
        }

        await Task.Delay(afterFault);
        await stop.CancelAsync();
        log(victim.Process.HasExited ? $"silo 3 has exited (code {victim.Process.ExitCode})" : "silo 3 still runs");
        await Task.WhenAll(takers);

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var duplicates = ScarabIdChecker.CountDuplicates(checkers, out var duplicate);
        var worst = checkers.MaxBy(c => c.MaxWait)!;
        return new ScarabIdFaultResult(
            checkers.Sum(c => c.Count),
            seconds,
            worst.MaxWaitMilliseconds,
            (worst.MaxWaitEndedAt - faultAt) / (double)Stopwatch.Frequency,
            checkers.Max(c => c.MaxWaitAfterFaultMilliseconds),
            duplicates,
            checkers.Sum(c => c.OrderViolations),
            duplicate ?? checkers.Select(c => c.FirstProblem).FirstOrDefault(p => p is not null));
    }
}
