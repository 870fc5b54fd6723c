using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Pyralog.Storage.Native.CrashChild;

namespace Pyralog.Storage.Native.Tests;

/// <summary>
/// A write that the file system refuses (here: the WAL outgrows the process's file-size limit, the same
/// failed write(2) path as a full disk) must surface as a clear error and leave a store that reopens
/// with every acknowledged write, without the refused one, and accepts new ones.
/// </summary>
public class WriteFailureTests
{
    private const ulong Log = 1;

    [Fact]
    public async Task A_refused_write_is_reported_and_the_store_reopens_consistent()
    {
        using var dir = new TempDirectory();
        var childDll = Path.Combine(AppContext.BaseDirectory, "Pyralog.Storage.Native.CrashChild.dll");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var start = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        // Ignore SIGXFSZ so the oversized write fails with EFBIG instead of killing the process; 32768 blocks
        // (16 or 32 MiB, depending on the shell's block unit) per file.
        start.ArgumentList.Add("trap '' XFSZ; ulimit -f 32768; exec \"$0\" \"$1\" \"$2\" 7 fill");
        start.ArgumentList.Add(dotnet);
        start.ArgumentList.Add(childDll);
        start.ArgumentList.Add(dir.Path);
        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (await child.StandardOutput.ReadLineAsync() is { } line)
        {
            lines.Add(line);
        }

        await child.WaitForExitAsync();
        Assert.True(child.ExitCode == 3, $"exit {child.ExitCode}: {await stderr} {string.Join(" | ", lines.TakeLast(3))}");
        var error = lines[^1];
        Assert.StartsWith("error ", error);
        Assert.Contains("wal-", error); // the message names the file that could not be written
        var lastAck = ulong.Parse(lines.Last(l => l.StartsWith("ack ", StringComparison.Ordinal)).AsSpan(4), CultureInfo.InvariantCulture);

        // The message names the byte where the refused frames began, and the file was cut back to it.
        var named = Regex.Match(error, @"'(?<path>[^']*wal-\d+\.log)'.* frames at byte (?<start>\d+)");
        Assert.True(named.Success, error);
        var frameStart = long.Parse(named.Groups["start"].Value, CultureInfo.InvariantCulture);
        Assert.Equal(frameStart, new FileInfo(named.Groups["path"].Value).Length);

        await using var store = PyramidStore.Open(dir.Path, CrashWorkload.FillOptions);
        // The child writes one batch at a time, so the refused batch starts at the last acknowledged end: it is absent.
        Assert.Equal(lastAck, store.GetLogBounds(Log).Next);
        Assert.Equal(0, store.Recovery.DroppedBytes);
        Assert.Equal(BitConverter.GetBytes(lastAck), await store.GetAsync(CrashWorkload.AckedKey));
        using (var cursor = store.ReadLog(Log, 0))
        {
            ulong expected = 0;
            while (cursor.MoveNext())
            {
                Assert.True(cursor.Payload.SequenceEqual(CrashWorkload.Payload(expected)), $"record {expected} is wrong");
                expected++;
            }

            Assert.Equal(store.GetLogBounds(Log).Next, expected);
        }

        var next = store.GetLogBounds(Log).Next;
        await store.AppendAsync(Log, 1, next, CrashWorkload.Payload(next));
        Assert.Equal(CrashWorkload.Payload(next), (await store.ReadAsync(Log, next))!.Payload);
    }
}
