using System.CommandLine;
using Pyralog.Client;
using Pyralog.Grains.Interfaces;

namespace Pyralog.Cli.Commands;

/// <summary>The options every command that talks to a cluster shares (the client's membership modes).</summary>
internal sealed class ConnectionOptions
{
    private const int DefaultGatewayPort = 30000;
    private const double DefaultConnectTimeoutSeconds = 5;
    private const double MaxConnectTimeoutSeconds = 3600;

    public Option<int[]> GatewayPorts { get; } = new("--gateway-port")
    {
        Description = "A gateway port on 127.0.0.1 (localhost and development membership); repeat it for more",
        DefaultValueFactory = _ => [DefaultGatewayPort],
        CustomParser = r => OptionParsers.Ports(r, "--gateway-port", [DefaultGatewayPort]),

        // One port per --gateway-port: taking every number after it would take a command's own argument too
        // (`produce --gateway-port 30001 orders`).
        AllowMultipleArgumentsPerToken = false,
        Recursive = true,
    };

    public Option<string> ClusterId { get; } = new("--cluster-id")
    {
        Description = "Cluster id",
        DefaultValueFactory = _ => "pyralog",
        Recursive = true,
    };

    public Option<string> ServiceId { get; } = new("--service-id")
    {
        Description = "Service id",
        DefaultValueFactory = _ => "pyralog",
        Recursive = true,
    };

    public Option<MembershipMode> Membership { get; } = new("--membership")
    {
        Description = "How to find the cluster: localhost, development or redis",
        DefaultValueFactory = _ => MembershipMode.Localhost,
        CustomParser = r => OptionParsers.Choice(r, "--membership", MembershipMode.Localhost),
        Recursive = true,
    };

    public Option<string?> Redis { get; } = new("--redis")
    {
        Description = "Redis connection string (redis membership)",
        CustomParser = r => OptionParsers.RedisConnectionString(r, "--redis"),
        Recursive = true,
    };

    public Option<double> ConnectTimeout { get; } = new("--connect-timeout")
    {
        Description = "Seconds to keep trying to reach the cluster",
        DefaultValueFactory = _ => DefaultConnectTimeoutSeconds,
        CustomParser = r => OptionParsers.Seconds(r, "--connect-timeout", MaxConnectTimeoutSeconds, DefaultConnectTimeoutSeconds),
        Recursive = true,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(GatewayPorts);
        command.Options.Add(ClusterId);
        command.Options.Add(ServiceId);
        command.Options.Add(Membership);
        command.Options.Add(Redis);
        command.Options.Add(ConnectTimeout);
    }

    public PyralogClientOptions Read(ParseResult result) => new()
    {
        GatewayPorts = result.GetValue(GatewayPorts) ?? [DefaultGatewayPort],
        ClusterId = result.GetValue(ClusterId) ?? "pyralog",
        ServiceId = result.GetValue(ServiceId) ?? "pyralog",
        Membership = result.GetValue(Membership),
        RedisConnectionString = result.GetValue(Redis),
        ConnectTimeout = TimeSpan.FromSeconds(result.GetValue(ConnectTimeout)),
    };
}
