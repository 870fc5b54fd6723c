using System.Net;
using System.Net.Sockets;

namespace Pyralog.Testing;

/// <summary>
/// TCP ports on 127.0.0.1 for the silos, gateways and servers a test or a benchmark starts. A port is drawn at random from just below
/// the kernel's ephemeral range, so no outgoing connection and no port-0 bind can take it between the pick and the bind,
/// and it is never handed out twice in one test process (a freed port-0 port comes back soon: a test's Redis once got the
/// port picked for one of its silos). Test assemblies running side by side draw from the same range at random.
/// </summary>
public static class TestPorts
{
    private const int RangeWidth = 12_000;

    private static readonly Lock Gate = new();

    // Invariant: holds every port Next returned in this process; none is returned again.
    private static readonly HashSet<int> Given = [];

    private static readonly (int First, int End) Range = BelowEphemeralRange();

    /// <summary>A port nobody listens on now, not returned before by this process.</summary>
    public static int Next()
    {
        lock (Gate)
        {
            for (var attempt = 0; attempt < 1_000; attempt++)
            {
                var port = Random.Shared.Next(Range.First, Range.End);
                if (!Given.Contains(port) && CanListen(port))
                {
                    Given.Add(port);
                    return port;
                }
            }
        }

        throw new InvalidOperationException($"no free TCP port on 127.0.0.1 in {Range.First}..{Range.End - 1} after 1,000 tries");
    }

    private static bool CanListen(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static (int First, int End) BelowEphemeralRange()
    {
        const string path = "/proc/sys/net/ipv4/ip_local_port_range";
        var low = 32_768;
        if (File.Exists(path))
        {
            var fields = File.ReadAllText(path).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 0 && int.TryParse(fields[0], out var parsed))
            {
                low = parsed;
            }
        }

        return low - RangeWidth >= 1_024 ? (low - RangeWidth, low) : (49_152 - RangeWidth, 49_152);
    }
}
