using System.Text;
using Pyralog.Cli.Commands;
using Pyralog.Cli.Input;

namespace Pyralog.Cli.Tests;

public sealed class ProduceRunTests
{
    [Fact]
    public async Task Ctrl_C_ends_the_input_and_the_lines_read_are_still_sent_and_acknowledged()
    {
        var cluster = new FakeLogSession();
        cluster.AddLog("orders", 1);
        using var ctrlC = new CancellationTokenSource();
        var output = new StringWriter();
        var run = new ProduceRun("orders", 0, null, 1024, verbose: true, output);
        await using var producer = cluster.CreateProducer();
        await run.SendAsync(producer, new LineReader(new InterruptedStream("a\nb\n"u8.ToArray(), ctrlC)), ctrlC.Token);
        Assert.Equal((2L, 2L, null, false), (run.Read, run.Acknowledged, run.Failure, run.StoppedEarly));
        Assert.Equal("0/1/0\n0/1/1\n", output.ToString().ReplaceLineEndings("\n"));
        Assert.Equal(["a", "b"], cluster.Records("orders", 0).Select(r => Encoding.UTF8.GetString(r.Value)));
    }

    [Fact]
    public async Task Long_lines_wait_for_acknowledgements_once_the_bytes_in_flight_reach_the_bound()
    {
        var cluster = new FakeLogSession();
        cluster.AddLog("orders", 1);
        var acks = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cluster.HoldAcks = acks.Task;
        var line = new string('x', 100_000);
        var input = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(line + "\n", 100)));
        var run = new ProduceRun("orders", 0, null, 1 << 20, verbose: false, new StringWriter(), maxPendingBytes: 1 << 20);
        await using var producer = cluster.CreateProducer();
        var sending = run.SendAsync(producer, new LineReader(new MemoryStream(input)), CancellationToken.None);

        // About a megabyte of records in flight (ten of 100 KB, and the one that went past the bound): then reading waits.
        for (var waited = 0; cluster.Produced.Count < 11; waited += 10)
        {
            Assert.True(waited < 30_000, $"only {cluster.Produced.Count} records were sent");
            await Task.Delay(10);
        }

        await Task.Delay(200);
        Assert.Equal(11, cluster.Produced.Count);
        Assert.False(sending.IsCompleted);

        acks.SetResult();
        await sending.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal((100L, 100L, null, false), (run.Read, run.Acknowledged, run.Failure, run.StoppedEarly));
    }
}
