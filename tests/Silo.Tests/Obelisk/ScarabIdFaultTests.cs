using Xunit.Abstractions;

namespace Pyralog.Silo.Tests.Obelisk;

/// <summary>
/// Clients taking IDs continuously from a three-silo process cluster while one silo is frozen or killed: every ID
/// received is checked (no duplicate, per-obelisk order kept) and no client waits more than a second for one.
/// </summary>
[Trait("Category", "Slow")]
public sealed class ScarabIdFaultTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan MaxGap = TimeSpan.FromSeconds(1);
    private readonly string _root = Directory.CreateTempSubdirectory("pyralog-faults-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task A_silo_frozen_for_ten_seconds_holds_no_client_up_for_more_than_a_second()
    {
        var result = await ScarabIdFaultRun.RunAsync(
            _root, SiloFault.Freeze, clients: 3, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(6), output.WriteLine);
        AssertHealthy(result);
    }

    [Fact]
    public async Task A_silo_frozen_for_thirty_seconds_holds_no_client_up_and_issues_no_duplicate_when_it_thaws()
    {
        // Longer than the Orleans response timeout (30 s): calls into the frozen silo time out and are retried.
        var result = await ScarabIdFaultRun.RunAsync(
            _root, SiloFault.Freeze, clients: 3, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(8), output.WriteLine);
        AssertHealthy(result);
    }

    [Fact]
    public async Task A_killed_silo_holds_no_client_up_for_more_than_a_second()
    {
        var result = await ScarabIdFaultRun.RunAsync(
            _root, SiloFault.Kill, clients: 3, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(20), TimeSpan.Zero, output.WriteLine);
        AssertHealthy(result);
    }

    private void AssertHealthy(ScarabIdFaultResult result)
    {
        output.WriteLine(result.ToString());
        Assert.True(result.Ids > 0, "no IDs were taken");
        Assert.Null(result.FirstProblem);
        Assert.Equal(0, result.Duplicates);
        Assert.Equal(0, result.OrderViolations);
        Assert.True(result.MaxGapMilliseconds <= MaxGap.TotalMilliseconds, $"a client waited {result.MaxGapMilliseconds:0} ms for one ID: {result}");
    }
}
