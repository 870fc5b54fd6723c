using System.Net;
using System.Net.Sockets;

namespace Pyralog.Silo.Startup;

/// <summary>
/// Refuses to start on a port another socket listens on. Orleans' listeners set <see cref="SocketOptionName.ReuseAddress"/>,
/// which .NET on Linux maps to SO_REUSEADDR and SO_REUSEPORT, so a second silo on the same port would bind beside the
/// first and the kernel would split clients between them.
/// </summary>
internal static class PortCheck
{
    // Linux <sys/socket.h>.
    private const int SolSocket = 1;
    private const int SoReuseAddr = 2;

    /// <summary>
    /// Binds the port exclusively for a moment. The probe sets SO_REUSEADDR alone, never SO_REUSEPORT: a restarted silo
    /// still binds past its old connections in TIME_WAIT, but any socket listening on the port conflicts, including one
    /// with SO_REUSEPORT (the kernel lets a socket join a port only if every socket on it has SO_REUSEPORT).
    /// </summary>
    /// <exception cref="StartupRefusedException">The port is in use or not this process's to bind, or the address is not this machine's.</exception>
    public static void EnsureFree(IPAddress address, string addressOption, int port, string what, string portOption)
    {
        try
        {
            // Created inside the try: a machine without IPv6 refuses the socket itself for an IPv6 address.
            using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (OperatingSystem.IsLinux())
            {
                probe.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
            }
            else
            {
                probe.ExclusiveAddressUse = true;
            }

            probe.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e)
        {
            throw Refusal(e, address, addressOption, port, what, portOption);
        }
    }

    /// <summary>The one line an operator reads for a probe that failed with <paramref name="e"/>, naming the switch to change.</summary>
    internal static StartupRefusedException Refusal(SocketException e, IPAddress address, string addressOption, int port, string what, string portOption) =>
        new(ExitCodes.BadInput, e.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse =>
                $"{what} {port} on {address} is already in use{HeldBy(new IPEndPoint(address, port))}; stop that process or choose another port with {portOption}.",
            SocketError.AddressNotAvailable => $"{addressOption} {address} is not an address of this machine ({e.Message}).",
            SocketError.AccessDenied =>
                $"this process may not bind {what} {port} on {address} ({e.Message}): ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another port with {portOption}.",
            SocketError.AddressFamilyNotSupported =>
                $"{addressOption} {address} is an {(address.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4")} address, which this machine does not support ({e.Message}).",
            _ => $"cannot bind {what} {port} on {address} ({e.Message}); check {addressOption} and {portOption}.",
        }, e);

    /// <summary>" by pid 123 (name)" for the processes listening where <paramref name="endPoint"/> would, or nothing if the OS does not say.</summary>
    internal static string HeldBy(IPEndPoint endPoint)
    {
        var holders = PortListeners.Find(endPoint.Port).Where(l => l.Overlaps(endPoint)).SelectMany(l => l.Holders).Distinct().ToList();
        return holders.Count == 0 ? "" : " by " + string.Join(", ", holders);
    }
}
