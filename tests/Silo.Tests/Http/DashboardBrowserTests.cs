using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Pyralog.Client;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests.Http;

/// <summary>
/// The dashboards in a real headless Chromium (the system's, driven by Playwright) against three silo processes:
/// Pyralog's page shows the log's partitions with their leaders and offsets that rise while records are produced,
/// without a reload; the Orleans dashboard renders. Screenshots of both pages are kept under
/// <c>TestResults/screenshots</c> beside the test assembly's project. The page's rates are also checked on scripted
/// overviews (the page as the silo embeds it, its polls answered by the test, its timers on Playwright's clock).
/// </summary>
public sealed partial class DashboardBrowserTests : IDisposable
{
    private const string Chromium = "/usr/bin/chromium";
    private readonly string _root = Directory.CreateTempSubdirectory("pyralog-dashboard-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Pyralog_page_shows_partitions_leaders_and_rising_offsets_in_a_real_browser()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium package (.ci/run does)");
        var ports = Enumerable.Range(0, 6).Select(_ => TestPorts.Next()).ToArray();
        string[] args = ["--membership", "development", "--primary-port", $"{ports[0]}", "--cluster-id", "dashboard-test"];
        var silos = new List<SiloProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                silos.Add(await SiloProcess.StartAsync(Path.Combine(_root, $"silo{i}"), ports[2 * i], ports[2 * i + 1], args));
            }

            await using var client = await PyralogClient.ConnectAsync(new PyralogClientOptions
            {
                Membership = MembershipMode.Development,
                GatewayPorts = [ports[1], ports[3], ports[5]],
                ClusterId = "dashboard-test",
                ConnectTimeout = TimeSpan.FromSeconds(30),
            });
            await client.CreateLogAsync("clicks", partitions: 3, replicationFactor: 3);
            await using var producer = client.CreateProducer();
            await ProduceAsync(producer, 300);

            using var playwright = await Playwright.CreateAsync();
            await using var browser = await LaunchChromiumAsync(playwright);
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
            var url = $"http://127.0.0.1:{silos[0].HttpPort}";
            await page.GotoAsync($"{url}/pyralog");

            var partitions = page.Locator("[data-testid=partitions][data-log=clicks] [data-testid=partition]");
            await Assertions.Expect(partitions).ToHaveCountAsync(3, new LocatorAssertionsToHaveCountOptions { Timeout = 30_000 });
            await Assertions.Expect(page.Locator("[data-testid=log-name]")).ToHaveTextAsync("clicks");
            var leaders = await page.Locator("[data-testid=partitions][data-log=clicks] [data-testid=leader]").AllInnerTextsAsync();
            var siloEndpoints = new[] { $"127.0.0.1:{ports[0]}", $"127.0.0.1:{ports[2]}", $"127.0.0.1:{ports[4]}" };
            Assert.All(leaders, leader => Assert.Contains(leader, siloEndpoints));
            await Assertions.Expect(page.Locator("[data-testid=silos] tbody tr")).ToHaveCountAsync(3);
            Assert.Equal(300, await CommittedAsync(page));
            await Assertions.Expect(page.Locator("[data-testid=storage] thead th")).ToHaveCountAsync(4); // a column per silo
            var mapLimit = int.Parse(File.ReadAllText("/proc/sys/vm/max_map_count").Trim(), System.Globalization.CultureInfo.InvariantCulture) / 2;
            Assert.Equal(3, Regex.Count(await page.Locator("[data-testid=storage] tbody").InnerTextAsync(), $@"\d+ of {mapLimit}\b")); // each silo's mapped segments
            var obelisks = await page.Locator("[data-testid=obelisk]").AllInnerTextsAsync(); // producer ids are Scarab IDs
            Assert.NotEmpty(obelisks);
            Assert.All(obelisks, row => Assert.Contains(siloEndpoints, e => row.Contains(e, StringComparison.Ordinal))); // the lease holder

            // Offsets rise on the open page, without a reload, as more records are produced.
            await ProduceAsync(producer, 200);
            await page.WaitForFunctionAsync(
                "() => [...document.querySelectorAll('[data-log=clicks] [data-testid=committed]')].reduce((s, td) => s + Number(td.textContent), 0) === 500",
                null, new PageWaitForFunctionOptions { Timeout = 30_000 });
            Assert.Equal(500, await CommittedAsync(page));
            Assert.Matches(ReplicaRoles(), await page.Locator("[data-testid=partitions][data-log=clicks]").InnerTextAsync());
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifact("pyralog-page.png"), FullPage = true });

            await page.GotoAsync($"{url}/dashboard/");
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
            await Assertions.Expect(page.GetByRole(AriaRole.Heading, new PageGetByRoleOptions { Name = "Orleans Dashboard" })).ToBeVisibleAsync();
            await Assertions.Expect(page.Locator("body")).ToContainTextAsync(ActiveSilos(), new LocatorAssertionsToContainTextOptions { Timeout = 30_000 });
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Artifact("orleans-dashboard.png"), FullPage = true });
        }
        finally
        {
            foreach (var silo in silos)
            {
                silo.Dispose();
            }
        }
    }

    [Fact]
    public async Task Pyralog_page_rates_never_go_negative_nor_mix_a_log_named_obelisk_with_the_obelisks()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium package (.ci/run does)");
        string html;
        using (var stream = typeof(Pyralog.Silo.Http.PyralogPage).Assembly.GetManifestResourceStream("pyralog/index.html")!)
        using (var reader = new StreamReader(stream))
        {
            html = await reader.ReadToEndAsync();
        }

        // Each poll: (log "obelisk"'s id, its partitions' committed offsets, null when no leader answered; obelisk 0's issued IDs).
        (ulong Id, ulong?[] Committed, long Issued)[] polls =
        [
            (7, [100, 40], 5000),
            (7, [150, 40], 5010),
            (7, [null, 60], 5030), // partition 0 has no leader
            (7, [210, 60], 5040), // its leader is back: the rate spans both seconds
            (9, [5, 0], 5050), // deleted and recreated under its name: offsets restart
            (9, [3, 8], 5060), // partition 0's offset went down
        ];
        string[][] rates = [["–", "–"], ["50", "0"], ["–", "20"], ["30", "0"], ["–", "–"], ["–", "8"]];
        string[][] committed = [["100", "40"], ["150", "40"], ["–", "60"], ["210", "60"], ["5", "0"], ["3", "8"]];
        string[] issuedRates = ["–", "10", "20", "10", "10", "10"];
        var served = 0;

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchChromiumAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.RouteAsync("http://pyralog.test/**", async route =>
        {
            var path = new Uri(route.Request.Url).AbsolutePath;
            if (path == "/pyralog")
            {
                await route.FulfillAsync(new RouteFulfillOptions { ContentType = "text/html; charset=utf-8", Body = html });
            }
            else if (path == "/pyralog/api/overview" && served < polls.Length)
            {
                var n = served++;
                await route.FulfillAsync(new RouteFulfillOptions { ContentType = "application/json", Body = Overview(n, polls[n]) });
            }
            else
            {
                await route.FulfillAsync(new RouteFulfillOptions { Status = 404 });
            }
        });
        // Installed and paused before the page loads: its polls come only when the test runs the clock on (an installed
        // clock flows with real time until paused, and a slow step of the test saw the page poll twice).
        var start = new DateTime(2026, 12, 6, 12, 0, 0, DateTimeKind.Utc);
        await page.Clock.InstallAsync(new ClockInstallOptions { TimeDate = start });
        await page.Clock.PauseAtAsync(start.AddMinutes(1));
        await page.GotoAsync("http://pyralog.test/pyralog");

        for (var n = 0; n < polls.Length; n++)
        {
            if (n > 0)
            {
                await page.Clock.RunForAsync(1000);
            }

            await Assertions.Expect(page.Locator("[data-testid=status]")).ToHaveTextAsync(new Regex($"^silo poll-{n},"));
            var partitions = page.Locator("[data-testid=partitions][data-log=obelisk]");
            Assert.Equal(
                $"poll {n}: rates {string.Join(' ', rates[n])}, committed {string.Join(' ', committed[n])}, IDs/s {issuedRates[n]}",
                $"poll {n}: rates {string.Join(' ', await partitions.Locator("[data-testid=rate]").AllInnerTextsAsync())}, " +
                $"committed {string.Join(' ', await partitions.Locator("[data-testid=committed]").AllInnerTextsAsync())}, " +
                $"IDs/s {await page.Locator("[data-testid=obelisk-rate]").InnerTextAsync()}");
            await Assertions.Expect(page.Locator("[data-testid=partitions][data-log=clicks] [data-testid=log-error]"))
                .ToHaveTextAsync("not described: Response did not arrive on time");
        }
    }

    // A scripted overview: log "obelisk" (2 partitions), log "clicks" that could not be described (an error, no
    // partitions), one silo report with obelisk 0; one second after the poll before.
    private static string Overview(int n, (ulong Id, ulong?[] Committed, long Issued) poll)
    {
        var at = new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero).AddSeconds(n);
        var silo = "127.0.0.1:11111@100";
        return JsonSerializer.Serialize(
            new
            {
                time = at,
                silo = $"poll-{n}",
                silos = Array.Empty<object>(),
                logs = new object[]
                {
                    new
                    {
                        name = "obelisk",
                        id = poll.Id,
                        state = "Active",
                        replicationFactor = 1,
                        durability = "Fsync",
                        partitions = poll.Committed.Select((c, p) => new
                        {
                            partition = p,
                            leaderSilo = c is null ? null : silo,
                            epoch = 1,
                            firstOffset = 0,
                            committedNext = c,
                            sharedSilos = false,
                            replicas = new[] { new { replica = 0, silo, role = c is null ? "Candidate" : "Leader", lag = 0, nextOffset = c ?? 0, error = (string?)null } },
                        }),
                    },
                    new { name = "clicks", id = 3, state = "Active", error = "Response did not arrive on time" },
                },
                reports = new[]
                {
                    new
                    {
                        silo,
                        replicas = 2,
                        store = new
                        {
                            logs = 2, memtableBytes = 0, blockCacheBytes = 0, userBytesWritten = 0, walBytesWritten = 0, flushBytesWritten = 0,
                            compactionBytesWritten = 0, writeAmplification = 1.0, mappedSegments = 0, mappedSegmentLimit = 32768,
                            levelBytes = Array.Empty<long>(), levelSegments = Array.Empty<int>(),
                        },
                        obelisks = new[] { new { obeliskId = 0, silo, fence = 1, leaseExpires = at.AddSeconds(10), issuedIds = poll.Issued } },
                    },
                },
            },
            JsonSerializerOptions.Web);
    }

    private static Task<IBrowser> LaunchChromiumAsync(IPlaywright playwright) =>
        playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });

    private static async Task ProduceAsync(LogProducer producer, int count)
    {
        var acks = new Task<RecordAck>[count];
        for (var i = 0; i < count; i++)
        {
            acks[i] = producer.ProduceAsync("clicks", new ProducerRecord(BitConverter.GetBytes(i), new byte[100]));
        }

        await Task.WhenAll(acks);
    }

    private static async Task<long> CommittedAsync(IPage page)
    {
        long sum = 0;
        foreach (var text in await page.Locator("[data-testid=partitions][data-log=clicks] [data-testid=committed]").AllInnerTextsAsync())
        {
            sum += long.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        }

        return sum;
    }

    private static string Artifact(string name)
    {
        // bin/Release/net10.0 → the test project's TestResults/screenshots.
        var directory = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "TestResults", "screenshots"));
        Directory.CreateDirectory(directory);
        return Path.Combine(directory, name);
    }

    [GeneratedRegex(@"Active Silos\s*3")]
    private static partial Regex ActiveSilos();

    [GeneratedRegex(@"Leader on 127\.0\.0\.1:\d+, lag \d+[\s\S]*Follower on 127\.0\.0\.1:\d+")]
    private static partial Regex ReplicaRoles();
}
