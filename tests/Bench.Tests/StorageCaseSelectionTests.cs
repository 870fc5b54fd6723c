using Pyralog.Bench.Storage;

namespace Pyralog.Bench.Tests;

public sealed class StorageCaseSelectionTests
{
    [Theory]
    [InlineData("kv-put-batch1000$", new[] { "kv-put-batch1000" })]
    [InlineData("kv-get", new[] { "kv-get" })]
    [InlineData("kv-", new[] { "kv-put-batch1", "kv-put-batch1000", "kv-get" })]
    [InlineData("read-random", new[] { "read-random", "read-random-logs1000" })]
    [InlineData("read-sequential$, scan", new[] { "read-sequential", "scan" })]
    [InlineData("recovery-1GiB-wal$", new[] { "recovery-1GiB-wal" })]
    [InlineData("flush", new[] { "flush-100B" })]
    [InlineData("append-100B-batch1000", new[] { "append-100B-batch1000", "append-100B-batch1000-logs1000" })]
    [InlineData("append-1024B-batch100$", new[] { "append-1024B-batch100" })]
    public void EachCaseIsSelectedByItsOwnName(string filter, string[] expected) =>
        Assert.Equal(expected, StorageSuite.SelectedCases(filter));

    [Fact]
    public void NoFilterSelectsEveryCaseInRunOrder() =>
        Assert.Equal(
            [
                "append-100B-batch1", "append-100B-batch100", "append-100B-batch1000",
                "append-1024B-batch1", "append-1024B-batch100", "append-1024B-batch1000", "append-1024B-batch100-at500",
                "read-random", "read-sequential", "scan", "kv-put-batch1", "kv-put-batch1000", "kv-get",
                "append-100B-batch1000-logs1000", "fill-1024B-logs100", "read-random-logs1000", "flush-100B", "recovery-1GiB-wal",
            ],
            StorageSuite.SelectedCases(null));

    [Fact]
    public void ACaseSelectedAloneRunsAfterTheCasesBeforeItOnItsStore()
    {
        string[] group = ["kv-put-batch1", "kv-put-batch1000", "kv-get"];

        Assert.Equal(["kv-put-batch1", "kv-put-batch1000"], StorageSuite.CasesToRun(group, new HashSet<string> { "kv-put-batch1000" }));
        Assert.Equal(group, StorageSuite.CasesToRun(group, new HashSet<string> { "kv-get" }));
        Assert.Equal(["kv-put-batch1"], StorageSuite.CasesToRun(group, new HashSet<string> { "kv-put-batch1" }));
        Assert.Empty(StorageSuite.CasesToRun(group, new HashSet<string> { "scan" }));
    }
}
