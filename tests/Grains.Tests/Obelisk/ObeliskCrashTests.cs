using System.Diagnostics;
using System.Globalization;
using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Grains.Tests.Obelisk;

/// <summary>
/// A real child process issues IDs far ahead of the clock and is killed with SIGKILL at a seeded random moment;
/// the next process on the same counter file must start above every ID the killed one reported.
/// </summary>
public sealed class ObeliskCrashTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("pyralog-crash-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public Task Ids_after_a_sigkill_are_above_every_id_the_killed_process_reported() => RunRoundsAsync(rounds: 3, seed: 20261125);

    [Fact]
    [Trait("Category", "Slow")]
    public Task Many_sigkill_rounds_never_reissue_an_id() => RunRoundsAsync(rounds: 300, seed: 777);

    private async Task RunRoundsAsync(int rounds, int seed)
    {
        var random = new Random(seed);
        var counter = Path.Combine(_directory, "0005.obelisk");
        ulong highest = 0;
        var clockWasBehind = 0;
        for (var round = 0; round < rounds; round++)
        {
            // Each line is a block of 8 ms of ticks, so 200+ lines put the IDs 1.6 s or more ahead of the clock.
            var killAfterLines = random.Next(200, 1000);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            using var child = StartChild(counter);
            try
            {
                var first = ReadId(await child.StandardOutput.ReadLineAsync(timeout.Token), "first", seed, round);
                if (round > 0)
                {
                    Assert.True(first > highest, $"seed {seed} round {round}: first ID {first} is not above {highest}, the highest reported before the kill");
                    if (new ScarabId(highest).Timestamp > DateTimeOffset.UtcNow)
                    {
                        // The clock alone would have reissued: the counter file is what kept IDs unique.
                        clockWasBehind++;
                    }
                }

                var previous = first;
                for (var line = 0; line < killAfterLines; line++)
                {
                    var id = ReadId(await child.StandardOutput.ReadLineAsync(timeout.Token), "issued", seed, round);
                    Assert.True(id > previous, $"seed {seed} round {round}: {id} after {previous}");
                    previous = id;
                }

                child.Kill(); // SIGKILL on Unix: no finalizers, no flush, no unwinding.
                await child.WaitForExitAsync(timeout.Token);

                // Lines the child wrote before it died but the test had not read yet count too: they were handed out.
                // (A line cut by the kill has no newline: it was never handed out whole, so it is skipped.)
                var rest = await child.StandardOutput.ReadToEndAsync(timeout.Token);
                var complete = rest[..(rest.LastIndexOf('\n') + 1)];
                foreach (var line in complete.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    var id = ReadId(line, "issued", seed, round);
                    Assert.True(id > previous, $"seed {seed} round {round}: {id} after {previous}");
                    previous = id;
                }

                highest = previous;
            }
            finally
            {
                if (!child.HasExited)
                {
                    child.Kill();
                }
            }
        }

        Assert.True(clockWasBehind > 0, $"seed {seed}: no round restarted with the clock behind the IDs issued, so the test proved nothing about the counter file");
    }

    private static ulong ReadId(string? line, string kind, int seed, int round)
    {
        Assert.True(line is not null, $"seed {seed} round {round}: the child ended before reporting '{kind}'");
        var parts = line!.Split(' ');
        Assert.Equal(kind, parts[0]);
        return ulong.Parse(parts[1], CultureInfo.InvariantCulture);
    }

    private static Process StartChild(string counter)
    {
        var child = Path.Combine(AppContext.BaseDirectory, "Pyralog.Obelisk.CrashChild.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(child);
        info.ArgumentList.Add(counter);
        info.ArgumentList.Add("5");
        info.ArgumentList.Add("64"); // a 64 ms reservation: an extend + fsync every 8 blocks, so kills land near them
        return Process.Start(info) ?? throw new InvalidOperationException("could not start the crash child");
    }
}
