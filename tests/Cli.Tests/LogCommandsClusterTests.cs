using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pyralog.Cli.Logs;

namespace Pyralog.Cli.Tests;

/// <summary>The log commands, produce and consume end to end: the CLI in-process, through the client, to a silo process.</summary>
[Trait("Category", "Slow")]
public sealed class LogCommandsClusterTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(SiloChild silo, string stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        using var input = new MemoryStream(Encoding.UTF8.GetBytes(stdin));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var exit = await PyralogCommandLine.RunAsync([.. args, .. silo.ConnectionArgs], input, output, error, ClientLogSession.ConnectAsync, TimeProvider.System)
            .WaitAsync(timeout.Token);
        return (exit, output.ToString().ReplaceLineEndings("\n"), error.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task Create_produce_consume_describe_and_delete_a_log()
    {
        await using var silo = await SiloChild.StartAsync();

        var (exit, output, error) = await Run(silo, "", "log", "create", "orders", "--partitions", "2", "--rf", "1", "--durability", "os-cache");
        Assert.Equal((0, ""), (exit, error));
        var id = Regex.Match(output, "^id +([0-9]+)$", RegexOptions.Multiline).Groups[1].Value;
        Assert.Equal(
            $"log              orders\nid               {id}\npartitions       2\nrf               1\ndurability       os-cache\nmax record       1048576 bytes\n" +
            "retention age    forever\nretention bytes  unlimited\nstate            active\n",
            output);

        var w = Math.Max(2, id.Length);
        Assert.Equal(
            (0, $"name    {"id".PadRight(w)}  partitions  rf  durability  state\norders  {id.PadRight(w)}  2           1   os-cache    active\n", ""),
            await Run(silo, "", "log", "list"));

        // One record per line, an empty line too, acknowledged in input order at dense offsets of one epoch.
        (exit, output, error) = await Run(silo, "a\n\nc\n", "produce", "orders", "--partition", "0", "--verbose");
        Assert.Equal(0, exit);
        Assert.Matches(@"^produced 3 records to orders in [0-9]+\.[0-9]{1,3} s\n$", error);
        var epoch = Regex.Match(output, "^0/([0-9]+)/0\n").Groups[1].Value;
        Assert.Equal($"0/{epoch}/0\n0/{epoch}/1\n0/{epoch}/2\n", output);

        // A key picks one partition for all its records, in input order.
        var keyedLines = string.Concat(Enumerable.Range(0, 100).Select(i => $"value-{i}\n"));
        (exit, output, error) = await Run(silo, keyedLines, "produce", "orders", "--key", "user-7");
        Assert.Equal((0, ""), (exit, output));
        Assert.Matches(@"^produced 100 records to orders in [0-9]+\.[0-9]{1,3} s\n$", error);

        var partition1 = await Run(silo, "", "consume", "orders", "--partition", "1");
        var keyed = partition1.Out.Length > 0 ? 1 : 0;
        Assert.Equal((0, keyed == 1 ? keyedLines : "", ""), partition1);
        Assert.Equal((0, keyed == 0 ? "a\n\nc\n" + keyedLines : "a\n\nc\n", ""), await Run(silo, "", "consume", "orders", "--partition", "0"));
        Assert.Equal((0, "a\n\n", ""), await Run(silo, "", "consume", "orders", "--partition", "0", "--max", "2"));

        (exit, output, error) = await Run(silo, "", "consume", "orders");
        Assert.Equal((0, ""), (exit, error));
        Assert.Equal(
            new[] { "", "a", "c" }.Concat(Enumerable.Range(0, 100).Select(i => $"value-{i}")).Order(StringComparer.Ordinal),
            output.Split('\n')[..^1].Order(StringComparer.Ordinal));

        var end = keyed == 0 ? 103UL : 100UL;
        (exit, output, error) = await Run(silo, "", "consume", "orders", "--partition", $"{keyed}", "--format", "json", "--from", $"{end - 1}");
        Assert.Equal((0, ""), (exit, error));
        var before = DateTimeOffset.UtcNow;
        AssertJsonRecord(output, keyed, end - 1, "user-7", "value-99", before.AddMinutes(-5));

        // A time finds the first record appended at or after it.
        var appendTime = JsonDocument.Parse(output).RootElement.GetProperty("appendTime").GetString()!;
        Assert.Equal((0, "value-99\n", ""), await Run(silo, "", "consume", "orders", "--partition", $"{keyed}", "--from", $"{end - 1}", "--max", "1"));
        (exit, output, error) = await Run(silo, "", "consume", "orders", "--partition", $"{keyed}", "--from", appendTime);
        Assert.Equal((0, ""), (exit, error));
        Assert.EndsWith("value-99\n", output, StringComparison.Ordinal);
        Assert.Equal((0, "", ""), await Run(silo, "", "consume", "orders", "--from", DateTimeOffset.UtcNow.AddHours(1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(104, (await Run(silo, "", "consume", "orders", "--from", "2000-01-01")).Out.Split('\n').Length);

        // --follow from the end waits for the next record.
        var following = Run(silo, "", "consume", "orders", "--partition", $"{keyed}", "--format", "json", "--from", $"{end}", "--follow", "--max", "1");
        var late = await Run(silo, "late\n", "produce", "orders", "--partition", $"{keyed}");
        Assert.Equal((0, ""), (late.Exit, late.Out));
        Assert.StartsWith("produced 1 record to orders in ", late.Err, StringComparison.Ordinal);
        (exit, output, error) = await following;
        Assert.Equal((0, ""), (exit, error));
        AssertJsonRecord(output, keyed, end, null, "late", before);

        // What consume asks a partition's leader when describe had no leader's answer: a linearizable read of its bounds.
        await using (var session = await ClientLogSession.ConnectAsync(
            new Client.PyralogClientOptions { GatewayPorts = [silo.GatewayPort], ClusterId = silo.ClusterId, ServiceId = "pyralog" }, CancellationToken.None))
        {
            var info = (await session.FindLogAsync("orders"))!;
            Assert.Equal(new PartitionBounds(0, end + 1), await session.ReadBoundsAsync(info, keyed, CancellationToken.None));
        }

        (exit, output, error) = await Run(silo, "", "log", "describe", "orders");
        Assert.Equal((0, ""), (exit, error));
        Assert.Matches($@"\n0 +\S+ +{epoch} +0 +{(keyed == 0 ? 104 : 3)} +0 +\S+ +leader +{(keyed == 0 ? 104 : 3)} +0\n", output);
        Assert.Matches($@"\n1 +\S+ +[0-9]+ +0 +{(keyed == 1 ? 101 : 0)} +0 +\S+ +leader +{(keyed == 1 ? 101 : 0)} +0\n", output);

        (exit, output, error) = await Run(silo, "", "log", "create", "aged", "--partitions", "1", "--rf", "1", "--retention-age", "7d", "--retention-bytes", "1GiB");
        Assert.Equal((0, ""), (exit, error));
        Assert.Contains("retention age    7d\nretention bytes  1073741824 bytes per partition\n", output, StringComparison.Ordinal);
        (exit, output, error) = await Run(silo, "", "log", "describe", "aged");
        Assert.Equal((0, ""), (exit, error));
        Assert.Contains("retention age    7d\nretention bytes  1073741824 bytes per partition\n", output, StringComparison.Ordinal);
        Assert.Equal((3, "", "pyralog: cannot create log 'aged' with 1 partitions, RF 1: log 'aged' exists with 1 partitions, RF 1, durability Fsync, " +
                "max record 1048576 bytes, retention age 7d, retention bytes 1073741824 (asked: 1 partitions, RF 1, durability Fsync, max record 1048576 bytes, " +
                "retention age 1d, retention bytes 1073741824)\n"),
            await Run(silo, "", "log", "create", "aged", "--partitions", "1", "--rf", "1", "--retention-age", "1d", "--retention-bytes", "1GiB"));
        Assert.Equal((0, "deleted log aged\n", ""), await Run(silo, "", "log", "delete", "aged"));

        Assert.Equal((0, "deleted log orders\n", ""), await Run(silo, "", "log", "delete", "orders"));
        Assert.Equal((3, "", "pyralog: no log is named 'orders'.\n"), await Run(silo, "", "consume", "orders"));
        Assert.Equal((3, "", "pyralog: no log is named 'orders'.\n"), await Run(silo, "x\n", "produce", "orders"));
        Assert.Equal((0, "name  id  partitions  rf  durability  state\n", ""), await Run(silo, "", "log", "list"));
    }

    private static void AssertJsonRecord(string output, int partition, ulong offset, string? key, string value, DateTimeOffset notBefore)
    {
        Assert.EndsWith("}\n", output, StringComparison.Ordinal);
        Assert.Single(output.Split('\n')[..^1]);
        using var json = JsonDocument.Parse(output);
        var record = json.RootElement;
        Assert.Equal(
            ("orders", partition, offset, key, value),
            (record.GetProperty("log").GetString(), record.GetProperty("partition").GetInt32(), record.GetProperty("offset").GetUInt64(),
                record.GetProperty("key").GetString(), record.GetProperty("value").GetString()));
        Assert.Matches("^[0-9]+$", record.GetProperty("id").GetString());
        var appended = DateTimeOffset.ParseExact(record.GetProperty("appendTime").GetString()!, "yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(appended, notBefore.AddSeconds(-1), DateTimeOffset.UtcNow.AddSeconds(1));
    }
}
