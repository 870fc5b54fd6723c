namespace Pyralog.Cli.Tests;

/// <summary>The <c>pyralog</c> executable itself against a silo process: streams, exit codes, SIGTERM/Ctrl+C.</summary>
[Trait("Category", "Slow")]
public sealed class CliProcessTests : IAsyncLifetime
{
    private SiloChild _silo = null!;

    public async Task InitializeAsync()
    {
        _silo = await SiloChild.StartAsync();
        using var create = CliProcess.Start(["log", "create", "events", "--partitions", "1", "--rf", "1", .. _silo.ConnectionArgs]);
        Assert.Equal(0, (await create.ExitAsync()).Exit);
    }

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    [Fact]
    public async Task Produce_stops_reading_at_SIGTERM_and_still_sends_and_reports_what_it_read()
    {
        using var produce = CliProcess.Start(["produce", "events", "--verbose", .. _silo.ConnectionArgs]);
        await produce.WriteInputAsync("one\ntwo\n");
        await produce.WaitForOutputAsync("0/");
        await produce.WaitForOutputAsync("\n0/");
        produce.Terminate();
        var (exit, output, error) = await produce.ExitAsync();
        Assert.Equal(0, exit);
        Assert.Matches(@"^0/[0-9]+/0\n0/[0-9]+/1\n$", output);
        Assert.Matches(@"^produced 2 records to events in [0-9]+\.[0-9]{1,3} s\n$", error);
    }

    [Fact]
    public async Task Consume_follow_ends_at_SIGTERM_with_exit_0_and_its_records_on_stdout()
    {
        using (var produce = CliProcess.Start(["produce", "events", .. _silo.ConnectionArgs]))
        {
            await produce.WriteInputAsync("first\n");
            produce.CloseInput();
            Assert.Equal(0, (await produce.ExitAsync()).Exit);
        }

        using var consume = CliProcess.Start(["consume", "events", "--follow", .. _silo.ConnectionArgs]);
        await consume.WaitForOutputAsync("first\n");
        using (var produce = CliProcess.Start(["produce", "events", .. _silo.ConnectionArgs]))
        {
            await produce.WriteInputAsync("second\n");
            produce.CloseInput();
            Assert.Equal(0, (await produce.ExitAsync()).Exit);
        }

        await consume.WaitForOutputAsync("second\n");
        consume.Terminate();
        Assert.Equal((0, "first\nsecond\n", ""), await consume.ExitAsync());
    }

    [Fact]
    public async Task Consume_follow_ends_quietly_with_exit_0_once_nothing_reads_its_stdout()
    {
        using (var produce = CliProcess.Start(["produce", "events", .. _silo.ConnectionArgs]))
        {
            await produce.WriteInputAsync("first\n");
            produce.CloseInput();
            Assert.Equal(0, (await produce.ExitAsync()).Exit);
        }

        // As after `pyralog consume events --follow | head -n 0`: printing "first" finds the reader gone.
        using var consume = CliProcess.StartWithoutReader(["consume", "events", "--follow", .. _silo.ConnectionArgs]);
        Assert.Equal((0, "", ""), await consume.ExitAsync());
    }

    [Fact]
    public async Task Consume_follow_of_a_quiet_log_ends_once_nothing_reads_its_stdout()
    {
        // No record ever comes for a write to find the reader gone: the command notices the closed pipe itself.
        using (var create = CliProcess.Start(["log", "create", "quiet", "--partitions", "1", "--rf", "1", .. _silo.ConnectionArgs]))
        {
            Assert.Equal(0, (await create.ExitAsync()).Exit);
        }

        using var consume = CliProcess.StartWithoutReader(["consume", "quiet", "--follow", .. _silo.ConnectionArgs]);
        Assert.Equal((0, "", ""), await consume.ExitAsync());
    }

    [Fact]
    public async Task Errors_are_one_line_on_stderr_with_nothing_on_stdout()
    {
        using var unknown = CliProcess.Start(["consume", "nope", .. _silo.ConnectionArgs]);
        Assert.Equal((3, "", "pyralog: no log is named 'nope'.\n"), await unknown.ExitAsync());
        using var bad = CliProcess.Start(["log", "create", "x", "--partitions", "0", "--rf", "1", .. _silo.ConnectionArgs]);
        Assert.Equal((2, "", "pyralog: --partitions must be a whole number in 1..65536 (was '0').\n"), await bad.ExitAsync());
    }
}
