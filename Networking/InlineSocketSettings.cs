using System.Net.Sockets;

namespace Pyralog.Networking;

/// <summary>The socket options of every connection, as Orleans' own transport sets them by default.</summary>
internal static class InlineSocketSettings
{
    /// <summary>Seconds of silence before the first keep-alive probe.</summary>
    public const int KeepAliveTimeSeconds = 90;

    /// <summary>Seconds between keep-alive probes of a peer that does not answer.</summary>
    public const int KeepAliveIntervalSeconds = 30;

    /// <summary>Unanswered probes before the connection is dead.</summary>
    public const int KeepAliveRetryCount = 10;

    /// <summary>Orleans frames each message itself: no Nagle delay; keep-alive finds a peer that vanished without a reset.</summary>
    public static void Apply(Socket socket)
    {
        socket.NoDelay = true;
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, KeepAliveTimeSeconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, KeepAliveIntervalSeconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, KeepAliveRetryCount);
    }
}
