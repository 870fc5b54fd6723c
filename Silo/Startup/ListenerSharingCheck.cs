using System.Net;
using Orleans.Runtime;

namespace Pyralog.Silo.Startup;

/// <summary>
/// After Orleans has bound its listeners and before the silo joins the cluster or accepts clients, checks that no other
/// process listens on the same ports. <see cref="PortCheck"/> runs before Orleans binds, so two silos started at the
/// same moment could both pass it; whichever binds second sees the first here and stops.
/// </summary>
/// <remarks>
/// Orleans' own socket transport always sets ReuseAddress, which .NET on Linux turns into SO_REUSEPORT, so a process of
/// the same user that sets it too could join a silo's ports. The silo host's transport (InlineSocketTransport) binds
/// without it, so nothing joins them later; this check still catches a listener that was there first, and
/// <see cref="PortCheck"/> in a newcomer.
/// </remarks>
internal sealed class ListenerSharingCheck(IPEndPoint silo, IPEndPoint gateway) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        // The silo listener binds at RuntimeInitialize - 1, the gateway at RuntimeInitialize; the gateway accepts clients at Active.
        lifecycle.Subscribe(nameof(ListenerSharingCheck), ServiceLifecycleStage.RuntimeInitialize + 1, _ =>
        {
            Check(silo, "silo port", "--silo-port");
            Check(gateway, "gateway port", "--gateway-port");
            return Task.CompletedTask;
        });

    internal static void Check(IPEndPoint endPoint, string what, string option)
    {
        var others = PortListeners.Find(endPoint.Port)
            .Where(l => l.Overlaps(endPoint))
            .SelectMany(l => l.Holders)
            .Where(p => p.Id != Environment.ProcessId)
            .Distinct()
            .ToList();
        if (others.Count > 0)
        {
            throw new StartupRefusedException(
                ExitCodes.BadInput,
                $"{what} {endPoint.Port} on {endPoint.Address} is shared with {string.Join(", ", others)}; stop that process or choose another port with {option}.");
        }
    }
}
