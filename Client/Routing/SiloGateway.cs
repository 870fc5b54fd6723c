using Microsoft.Extensions.Hosting;

namespace Pyralog.Client.Routing;

/// <summary>One silo's entry in <see cref="SiloGateways"/>; its fields are guarded by that class's lock.</summary>
internal sealed class SiloGateway
{
    /// <summary>The Orleans client host connected to the silo's gateway alone; null while connecting, after a failure or once dropped.</summary>
    public IHost? Host { get; set; }

    public IClusterClient? Client { get; set; }

    public bool Connecting { get; set; }

    /// <summary>When the last attempt failed or the connection was lost (a <see cref="TimeProvider"/> timestamp).</summary>
    public long FailedAt { get; set; }
}
