using Pyralog.Grains.Interfaces;

namespace Pyralog.Client;

/// <summary>How a <see cref="PyralogClient"/> reaches the cluster. The defaults reach a silo started with no options.</summary>
public sealed class PyralogClientOptions
{
    public string ClusterId { get; set; } = "pyralog";

    public string ServiceId { get; set; } = "pyralog";

    public MembershipMode Membership { get; set; } = MembershipMode.Localhost;

    /// <summary>Gateway ports on 127.0.0.1 (localhost and development membership).</summary>
    public IList<int> GatewayPorts { get; set; } = [30000];

    /// <summary>In <see cref="MembershipMode.Redis"/>: a StackExchange.Redis connection string.</summary>
    public string? RedisConnectionString { get; set; }

    /// <summary>How long to keep trying to reach a gateway before giving up.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first wrong setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            throw new ArgumentException("ClusterId must not be empty.", nameof(ClusterId));
        }

        if (string.IsNullOrWhiteSpace(ServiceId))
        {
            throw new ArgumentException("ServiceId must not be empty.", nameof(ServiceId));
        }

        if (Membership != MembershipMode.Redis)
        {
            if (GatewayPorts.Count == 0)
            {
                throw new ArgumentException("At least one gateway port is needed.", nameof(GatewayPorts));
            }

            foreach (var port in GatewayPorts)
            {
                if (port is < 1 or > 65535)
                {
                    throw new ArgumentException($"Gateway port {port} is not in 1..65535.", nameof(GatewayPorts));
                }
            }
        }
        else if (string.IsNullOrWhiteSpace(RedisConnectionString))
        {
            throw new ArgumentException("Membership is 'redis' but RedisConnectionString is not set.", nameof(RedisConnectionString));
        }

        if (ConnectTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ConnectTimeout must be positive (was {ConnectTimeout}).", nameof(ConnectTimeout));
        }
    }
}
