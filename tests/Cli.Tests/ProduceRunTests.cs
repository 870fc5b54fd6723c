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
}
