using System.Diagnostics;
using Pyralog.Storage.Native.CrashChild;
using Pyralog.Storage.Native.Log;

namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// Kills a real writer process with SIGKILL at seeded-random moments (during group commits, flushes
/// and compactions), then checks that every acknowledged write is present, that everything present is
/// exactly what was written (no garbage), and that the atomic batches — the same records to three logs plus
/// a KV put — stayed atomic. The seeds are fixed (<see cref="TestSeed"/>), so a failure's seed and round repeat it.
/// </summary>
public class CrashTests
{
    [Fact]
    public Task A_few_sigkill_rounds_lose_no_acknowledged_write() => RunRoundsAsync(rounds: 3, seed: TestSeed.Of(20261203));

    [Fact]
    [Trait("Category", "Slow")]
    public Task Many_sigkill_rounds_lose_no_acknowledged_write() => RunRoundsAsync(rounds: 40, seed: TestSeed.Of(20261204));

    private static async Task RunRoundsAsync(int rounds, int seed)
    {
        using var dir = new TempDirectory();
        var random = new Random(seed);
        for (var round = 0; round < rounds; round++)
        {
            var context = $"seed {seed} (PYRALOG_TEST_SEED shifts it), round {round}";
            var lastAck = await RunChildUntilKilledAsync(dir.Path, random.Next(), acksBeforeKill: random.Next(1, 400), context);
            await using var store = PyramidStore.Open(dir.Path, CrashWorkload.Options);
            var next = store.GetLogBounds(CrashWorkload.Logs[0]).Next;
            Assert.True(next >= lastAck, $"{context}: acknowledged up to {lastAck} but recovered only {next}");
            var acked = await store.GetAsync(CrashWorkload.AckedKey);
            Assert.True(acked is not null && BitConverter.ToUInt64(acked) == next, $"{context}: KV and log of one batch disagree ({(acked is null ? "null" : BitConverter.ToUInt64(acked))} vs {next})");
            foreach (var log in CrashWorkload.Logs)
            {
                Assert.True(store.GetLogBounds(log) == new LogBounds(0, next), $"{context}: log {log} has {store.GetLogBounds(log)}, log {CrashWorkload.Logs[0]} ends at {next}");
                using var cursor = store.ReadLog(log, 0);
                ulong expected = 0;
                while (cursor.MoveNext())
                {
                    Assert.True(cursor.Offset == expected && cursor.Payload.SequenceEqual(CrashWorkload.Payload(expected)), $"{context}: record {expected} of log {log} is wrong");
                    expected++;
                }

                Assert.True(expected == next, $"{context}: log {log} reads {expected} records, its bounds end at {next}");
            }
        }
    }

    private static async Task<ulong> RunChildUntilKilledAsync(string directory, int childSeed, int acksBeforeKill, string context)
    {
        var childDll = Path.Combine(AppContext.BaseDirectory, "Pyralog.Storage.Native.CrashChild.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(childDll);
        start.ArgumentList.Add(directory);
        start.ArgumentList.Add(childSeed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        ulong lastAck = 0;
        var acks = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            while (acks < acksBeforeKill)
            {
                var line = await child.StandardOutput.ReadLineAsync(timeout.Token);
                if (line is null)
                {
                    Assert.Fail($"{context}: child exited early: {await stderr}");
                }

                lastAck = ulong.Parse(line.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture);
                acks++;
            }
        }
        finally
        {
            child.Kill(); // SIGKILL on Unix: no managed shutdown, no flush
            await child.WaitForExitAsync();
        }

        return lastAck;
    }
}
