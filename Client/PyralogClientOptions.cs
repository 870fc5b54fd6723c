using System.ComponentModel.DataAnnotations;
using Pyralog.Grains.Interfaces.Validation;
using Pyralog.Grains.Interfaces;

namespace Pyralog.Client;

/// <summary>How a <see cref="PyralogClient"/> reaches the cluster. The defaults reach a silo started with no options.</summary>
public sealed class PyralogClientOptions
{
    /// <summary>The annotations on these options, then the rules across settings.</summary>
    internal static readonly SettingsValidator<PyralogClientOptions> Validator =
        new(nameof(PyralogClientOptions), configurationPath: false, new PyralogClientOptionsValidator(), new PyralogClientOptionsRules());

    [Required(ErrorMessage = "{0} must not be empty")]
    public string ClusterId { get; set; } = "pyralog";

    [Required(ErrorMessage = "{0} must not be empty")]
    public string ServiceId { get; set; } = "pyralog";

    public MembershipMode Membership { get; set; } = MembershipMode.Localhost;

    /// <summary>Gateway ports on 127.0.0.1 (localhost and development membership).</summary>
    public IList<int> GatewayPorts { get; set; } = [30000];

    /// <summary>In <see cref="MembershipMode.Redis"/>: a StackExchange.Redis connection string.</summary>
    public string? RedisConnectionString { get; set; }

    /// <summary>
    /// Calls to a partition replica enter the cluster at the silo hosting it, through a connection of this client's to
    /// that silo's gateway (one per silo, made when first needed). Off: they enter through whichever gateway Orleans picks
    /// for the replica, which forwards them (one more hop when that is another silo); use it when the silos' gateway
    /// endpoints in the membership table are not reachable from the client.
    /// </summary>
    public bool DirectRouting { get; set; } = true;

    /// <summary>How long to keep trying to reach a gateway before giving up.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "10675199.02:48:05.4775807", MinimumIsExclusive = true)]
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="ArgumentException"/> naming every wrong setting and its value (its parameter name: the first).</summary>
    public void Validate() => Validator.ThrowIfInvalid(this);
}
