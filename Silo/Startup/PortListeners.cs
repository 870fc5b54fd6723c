using System.Buffers.Binary;
using System.Globalization;
using System.Net;

namespace Pyralog.Silo.Startup;

/// <summary>
/// The TCP sockets listening on a port, from <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c>, with their processes found by
/// matching each socket's inode to <c>/proc/&lt;pid&gt;/fd</c> links. Linux only; elsewhere the list is empty.
/// </summary>
internal static class PortListeners
{
    private const string Listen = "0A";

    public static IReadOnlyList<PortListener> Find(int port)
    {
        var sockets = new List<(IPEndPoint EndPoint, string Inode)>();
        foreach (var table in (string[])["/proc/net/tcp", "/proc/net/tcp6"])
        {
            if (!File.Exists(table))
            {
                continue;
            }

            // "sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ..."
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && fields[3] == Listen && ParseEndPoint(fields[1]) is { } endPoint && endPoint.Port == port)
                {
                    sockets.Add((endPoint, fields[9]));
                }
            }
        }

        return [.. sockets.Select(s => new PortListener(s.EndPoint, OpenFiles.Holders(link => link == $"socket:[{s.Inode}]")))];
    }

    /// <summary>Parses <c>0100007F:7530</c>: the address as 32-bit words in host byte order, then the port in hex.</summary>
    private static IPEndPoint? ParseEndPoint(string text)
    {
        var colon = text.IndexOf(':');
        if (colon < 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var port))
        {
            return null;
        }

        var hex = text.AsSpan(0, colon);
        if (hex.Length is not (8 or 32))
        {
            return null;
        }

        var bytes = new byte[hex.Length / 2];
        for (var word = 0; word < hex.Length / 8; word++)
        {
            if (!uint.TryParse(hex.Slice(word * 8, 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var value))
            {
                return null;
            }

            if (BitConverter.IsLittleEndian)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(word * 4), value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(word * 4), value);
            }
        }

        return new IPEndPoint(new IPAddress(bytes), port);
    }
}
