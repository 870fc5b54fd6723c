using System.Diagnostics;
using Pyralog.Client;
using Pyralog.Client.Obelisk;
using Pyralog.Grains.Interfaces;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Interfaces.Obelisk;
using Pyralog.Testing;

namespace Pyralog.Silo.Tests;

/// <summary>
/// Clusters of silo processes on 127.0.0.1. In <c>development</c> membership (one primary): IDs stay unique while the
/// secondary silo is killed. In <c>redis</c> membership against a real redis-server: IDs stay unique when a silo is
/// killed, and after the whole cluster restarts with wiped data directories the obelisk leases kept in Redis still
/// put every new ID above the old ones, and the record kept there that the metadata group was founded stops the wiped
/// silo from founding an empty one (needs redis-server on PATH, Debian package redis-server).
/// </summary>
[Trait("Category", "Slow")]
public sealed class MultiProcessClusterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("pyralog-redis-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Development_membership_keeps_ids_unique_while_the_secondary_silo_is_killed()
    {
        var ports = Enumerable.Range(0, 4).Select(_ => TestPorts.Next()).ToArray();
        string[] args = ["--membership", "development", "--primary-port", $"{ports[0]}", "--cluster-id", "dev-test"];
        using var primary = await SiloProcess.StartAsync(Path.Combine(_root, "p"), ports[0], ports[1], args);
        using var secondary = await SiloProcess.StartAsync(Path.Combine(_root, "s"), ports[2], ports[3], args);
        await using var client = await PyralogClient.ConnectAsync(new PyralogClientOptions
        {
            Membership = MembershipMode.Development,
            GatewayPorts = [ports[1], ports[3]],
            ClusterId = "dev-test",
            ConnectTimeout = TimeSpan.FromSeconds(30),
        });
        var generator = client.CreateIdGenerator(new ScarabIdGeneratorOptions
        {
            ObeliskIds = [10, 11, 12, 13, 14, 15],
            BlockSize = 500,
            MaxAttempts = 40,
            RetryDelay = TimeSpan.FromMilliseconds(250),
        });
        var seen = new HashSet<ScarabId>();
        for (var i = 0; i < 60_000; i++)
        {
            if (i == 20_000)
            {
                secondary.Process.Kill(); // SIGKILL
            }

            var id = await generator.NextAsync();
            Assert.True(seen.Add(id), $"{id.ToReadableString()} was issued twice");
        }

        Assert.Equal(0, await primary.StopAsync());
    }

    [Fact]
    public async Task Redis_membership_keeps_ids_unique_across_a_killed_silo_and_a_restart_with_wiped_data()
    {
        var redisPort = TestPorts.Next();
        using var redis = StartRedis(redisPort);
        try
        {
            await RunAsync($"127.0.0.1:{redisPort}");
        }
        finally
        {
            redis.Kill();
            await redis.WaitForExitAsync();
        }
    }

    private async Task RunAsync(string connection)
    {
        var ports = Enumerable.Range(0, 4).Select(_ => TestPorts.Next()).ToArray();
        string[] redisArgs = ["--membership", "redis", "--redis", connection, "--cluster-id", "redis-test"];
        var clientOptions = new PyralogClientOptions
        {
            Membership = MembershipMode.Redis,
            RedisConnectionString = connection,
            ClusterId = "redis-test",
            ConnectTimeout = TimeSpan.FromSeconds(30),
        };
        var generatorOptions = new ScarabIdGeneratorOptions { ObeliskIds = [1, 2, 3, 4], BlockSize = 500, MaxAttempts = 40, RetryDelay = TimeSpan.FromMilliseconds(250) };
        var seen = new HashSet<ScarabId>();
        var highestPerObelisk = new Dictionary<int, ScarabId>();

        async Task Take(IScarabIdGenerator generator, int count)
        {
            for (var i = 0; i < count; i++)
            {
                var id = await generator.NextAsync();
                Assert.True(seen.Add(id), $"{id.ToReadableString()} was issued twice");
                if (!highestPerObelisk.TryGetValue(id.ObeliskId, out var high) || id > high)
                {
                    highestPerObelisk[id.ObeliskId] = id;
                }
            }
        }

        using (var first = await SiloProcess.StartAsync(Path.Combine(_root, "a1"), ports[0], ports[1], redisArgs))
        using (var second = await SiloProcess.StartAsync(Path.Combine(_root, "b1"), ports[2], ports[3], redisArgs))
        {
            await using var client = await PyralogClient.ConnectAsync(clientOptions);
            await client.Cluster.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("before-the-wipe", 1, 1); // founds the metadata group
            var generator = client.CreateIdGenerator(generatorOptions);
            await Take(generator, 20_000);
            second.Process.Kill(); // SIGKILL: its obelisks reactivate on the first silo after their leases expire
            await Take(generator, 20_000);

            // Each obelisk id issues IDs before the restart, so each is checked after it: the hedging generator above
            // may leave an id it never needed unused (a run saw id 4 first after the restart).
            foreach (var obeliskId in generatorOptions.ObeliskIds!)
            {
                await Take(client.CreateIdGenerator(new ScarabIdGeneratorOptions
                {
                    ObeliskIds = [obeliskId],
                    BlockSize = generatorOptions.BlockSize,
                    MaxAttempts = generatorOptions.MaxAttempts,
                    RetryDelay = generatorOptions.RetryDelay,
                }), 1_000);
            }

            // The survivor stays up until it has declared the killed silo dead, as a surviving silo does. Stopped before
            // that, the killed silo stays Active in Redis, and a restarted silo cannot join until that entry is stale
            // (Orleans: 90 s without a heartbeat) and it has evicted it itself, about two minutes after the kill.
            await WaitUntilDeclaredDeadAsync(client.Cluster, ports[2]);
            Assert.Equal(0, await first.StopAsync());
        }

        var before = new Dictionary<int, ScarabId>(highestPerObelisk);

        // New data directories: the local counter files are gone, only the leases in Redis remember.
        using (var first = await SiloProcess.StartAsync(Path.Combine(_root, "a2"), ports[0], ports[1], redisArgs))
        {
            await using var client = await PyralogClient.ConnectAsync(clientOptions);
            var generator = client.CreateIdGenerator(generatorOptions);
            for (var i = 0; i < 4_000; i++)
            {
                var id = await generator.NextAsync();
                Assert.True(id > before[id.ObeliskId], $"{id.ToReadableString()} is not above {before[id.ObeliskId].ToReadableString()} from before the restart");
                Assert.True(seen.Add(id));
            }

            foreach (var obeliskId in generatorOptions.ObeliskIds!)
            {
                // The fence carried on from the leases in Redis: every obelisk had been activated before.
                var status = await client.Cluster.GetGrain<IObeliskGrain>(obeliskId).GetStatusAsync();
                Assert.True(status.Fence >= 2, $"obelisk {obeliskId} has fence {status.Fence}: its lease was not kept in Redis");
            }

            // The silo holds no data and no mark of the group; Redis's record says the group exists on silos that are down.
            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => client.Cluster.GetGrain<IPyralogAdminGrain>(0).ListLogsAsync());
            Assert.Contains("the cluster's grain storage ('pyralog-cluster') records the group founded", refused.Message);

            Assert.Equal(0, await first.StopAsync());
        }
    }

    /// <summary>Waits until the membership table no longer lists the silo on <paramref name="siloPort"/> as active.</summary>
    private static async Task WaitUntilDeclaredDeadAsync(IClusterClient cluster, int siloPort)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                var active = await cluster.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
                if (!active.Keys.Any(s => s.Endpoint.Port == siloPort))
                {
                    return;
                }
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                // The call went through the killed silo's gateway: the client retries another.
            }

            Assert.True(DateTime.UtcNow < deadline, $"the silo on port {siloPort} was not declared dead within 60 s");
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }

    private static Process StartRedis(int port)
    {
        var info = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
        foreach (var arg in new[] { "--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            info.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("This test needs redis-server on PATH (apt-get install redis-server).", e);
        }

        while (process.StandardOutput.ReadLine() is { } line)
        {
            if (line.Contains("Ready to accept connections", StringComparison.Ordinal))
            {
                return process;
            }
        }

        throw new InvalidOperationException("redis-server exited before it was ready");
    }
}
