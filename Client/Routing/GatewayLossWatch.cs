namespace Pyralog.Client.Routing;

/// <summary>Tells a <see cref="SiloGateways"/> connection that its one gateway is gone (the silo died, stopped or left).</summary>
internal sealed class GatewayLossWatch(Action lost) : IClusterConnectionStatusObserver
{
    public void NotifyClusterConnectionLost() => lost();

    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways == 0)
        {
            lost();
        }
    }
}
