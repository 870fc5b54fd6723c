using System.Net;

namespace Pyralog.Silo.Startup;

/// <summary>A TCP socket listening on a port of this machine, and the processes holding it (empty when the OS does not say).</summary>
internal sealed record PortListener(IPEndPoint EndPoint, IReadOnlyList<ProcessRef> Holders)
{
    /// <summary>Whether a socket bound to <paramref name="other"/> would take connections meant for this one (same port, overlapping address).</summary>
    public bool Overlaps(IPEndPoint other)
    {
        if (other.Port != EndPoint.Port)
        {
            return false;
        }

        var mine = Normalize(EndPoint.Address);
        var theirs = Normalize(other.Address);
        return mine.Equals(theirs) || IsAny(mine) || IsAny(theirs);
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static bool IsAny(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}
