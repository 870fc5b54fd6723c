using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Pyralog.Silo.Hosting;

namespace Pyralog.Silo.Tests.Hosting;

/// <summary>
/// docker-compose.yml cannot run here (no Docker engine), so its settings are checked against the silo's own: every
/// environment key and command-line switch is one the silo knows, the healthcheck asks the HTTP port the silos listen
/// on, each published port is one the silo listens on, and Redis keeps what it acknowledged across a crash.
/// </summary>
public sealed partial class DockerComposeTests
{
    private static readonly string Compose = File.ReadAllText(FindUp("docker-compose.yml"));

    [Fact]
    public void Every_environment_key_and_switch_of_the_compose_file_is_a_silo_setting()
    {
        var environment = Environment().ToList();
        Assert.NotEmpty(environment);
        Assert.All(environment, e => Assert.True(SettingKeys.IsKnown(e.Key), $"{e.Key} is not a silo setting"));
        var commands = Commands().ToList();
        Assert.Equal(3, commands.Count);
        foreach (var command in commands)
        {
            var settings = SiloCommandLine.Parse(command);
            Assert.Equal("0.0.0.0", settings["Silo:Address"]);
        }
    }

    [Fact]
    public void The_healthcheck_and_published_ports_match_the_ports_the_silos_listen_on()
    {
        var httpPort = Environment().Single(e => e.Key == "Silo:HttpPort").Value;
        Assert.Equal("0.0.0.0", Environment().Single(e => e.Key == "Silo:HttpAddress").Value); // reachable from the host's port mapping
        Assert.Equal($"http://127.0.0.1:{httpPort}/health/ready", HealthcheckUrl().Match(Compose).Groups[1].Value);

        var commands = Commands().ToList();
        var published = PublishedPorts().Matches(Compose).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(3, published.Count);
        for (var i = 0; i < commands.Count; i++)
        {
            var gateway = SiloCommandLine.Parse(commands[i])["Silo:GatewayPort"];
            var container = published[i].Split(", ").Select(p => p.Trim('"').Split(':')[^1]).ToList();
            Assert.Equal([gateway!, httpPort], container);
        }
    }

    [Fact]
    public void Docker_waits_for_a_graceful_stop_as_long_as_the_silo_may_take()
    {
        using var host = PyralogSiloHost.CreateBuilder([]).Build();
        var shutdown = host.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;
        var grace = StopGracePeriod().Match(Compose);
        Assert.True(grace.Success, "docker-compose.yml sets no stop_grace_period: Docker kills a silo 10 s into its graceful stop");
        Assert.True(TimeSpan.FromSeconds(int.Parse(grace.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)) > shutdown,
            $"stop_grace_period {grace.Groups[1].Value}s is not above the silo's shutdown timeout {shutdown}");
    }

    [Fact]
    public void Redis_fsyncs_every_write_to_an_append_only_file_on_a_volume()
    {
        // The obelisk leases (fence, reservation) and the membership table live in Redis: a crash must not roll them back
        // to the last RDB snapshot, which is all Redis keeps by default.
        var redis = Service("redis");
        Assert.Equal(@"    command: [""redis-server"", ""--appendonly"", ""yes"", ""--appendfsync"", ""always""]", Line(redis, "command"));
        Assert.Equal(@"    volumes: [""redis-data:/data""]", Line(redis, "volumes"));
        Assert.Matches(DeclaredRedisVolume(), Compose.ReplaceLineEndings("\n"));
    }

    /// <summary>
    /// A silo is its advertised endpoint to replica placement: one recreated under a new address would be a new silo with
    /// no data (every replica copied afresh, a group whose replicas all moved unable to elect). Each silo keeps a fixed
    /// address on a declared subnet.
    /// </summary>
    [Fact]
    public void Each_silo_keeps_a_fixed_address_across_recreation()
    {
        var addresses = new[] { "silo1", "silo2", "silo3" }
            .Select(name => SiloAddress().Match(Line(Service(name), "networks")).Groups[1].Value) // "" when it has none
            .ToList();
        Assert.Equal(["172.28.0.11", "172.28.0.12", "172.28.0.13"], addresses);
        Assert.Equal(@"    networks: [pyralog]", Line(Service("redis"), "networks"));
        Assert.Matches(DeclaredSubnet(), Compose.ReplaceLineEndings("\n"));
    }

    /// <summary>The lines of one service, from its name to the next service or top-level key.</summary>
    private static string[] Service(string name)
    {
        var lines = Compose.ReplaceLineEndings("\n").Split('\n');
        var start = Array.IndexOf(lines, $"  {name}:");
        Assert.True(start >= 0, $"docker-compose.yml has no service {name}");
        var end = start + 1;
        while (end < lines.Length && lines[end].StartsWith("    ", StringComparison.Ordinal))
        {
            end++;
        }

        return lines[start..end];
    }

    /// <summary>The one line of a service that sets <paramref name="key"/>.</summary>
    private static string Line(string[] service, string key) =>
        Assert.Single(service, l => l.StartsWith($"    {key}:", StringComparison.Ordinal));

    private static IEnumerable<KeyValuePair<string, string>> Environment() =>
        EnvironmentLine().Matches(Compose).Select(m => new KeyValuePair<string, string>(m.Groups[1].Value.Replace("__", ":", StringComparison.Ordinal), m.Groups[2].Value));

    private static IEnumerable<string[]> Commands() =>
        CommandLine().Matches(Compose).Select(m => m.Groups[1].Value.Split(", ").Select(a => a.Trim('"')).ToArray());

    private static string FindUp(string name)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, name)))
            {
                return Path.Combine(directory.FullName, name);
            }
        }

        throw new FileNotFoundException($"no {name} above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^\s{4}(Silo__\w+|Pyralog__\w+): (\S+)$", RegexOptions.Multiline)]
    private static partial Regex EnvironmentLine();

    // The silos' commands: switches only (the Redis service's command starts with the server's name).
    [GeneratedRegex(@"^\s{4}command: \[(""--.*)\]$", RegexOptions.Multiline)]
    private static partial Regex CommandLine();

    [GeneratedRegex(@"test: \[""CMD"", ""curl"", ""-fsS"", ""([^""]+)""\]")]
    private static partial Regex HealthcheckUrl();

    [GeneratedRegex(@"^\s{4}ports: \[(""127\.0\.0\.1:300\d\d:\d+"".*)\]$", RegexOptions.Multiline)]
    private static partial Regex PublishedPorts();

    [GeneratedRegex(@"^  stop_grace_period: (\d+)s$", RegexOptions.Multiline)]
    private static partial Regex StopGracePeriod();

    [GeneratedRegex(@"^    networks: \{ pyralog: \{ ipv4_address: (172\.28\.0\.\d+) \} \}$")]
    private static partial Regex SiloAddress();

    [GeneratedRegex(@"^networks:\n  pyralog:\n    ipam:\n      config:\n        - subnet: 172\.28\.0\.0/24$", RegexOptions.Multiline)]
    private static partial Regex DeclaredSubnet();

    [GeneratedRegex(@"^volumes:\n(  \S+:\n)*  redis-data:$", RegexOptions.Multiline)]
    private static partial Regex DeclaredRedisVolume();
}
