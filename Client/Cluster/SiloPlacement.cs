namespace Pyralog.Client.Cluster;

/// <summary>
/// One silo in <see cref="ClusterStatus"/>: its address (as replicas report it, <c>ip:port@generation</c>), its name, its
/// membership status (Orleans' <c>SiloStatus</c>: Active, Joining, ShuttingDown, Stopping, Dead; <c>Unknown</c> for a
/// silo that replicas named but the membership table did not), whether an operator drains it (<c>pyralog cluster
/// drain</c>: it is to hold nothing; <see cref="DrainingUnknown"/> when it did not answer whether it drains), and the
/// partition replicas it hosts and the groups it leads.
/// </summary>
public sealed record SiloPlacement(string Address, string Name, string Status, int Replicas, int Leaders, bool Draining = false, bool DrainingUnknown = false)
{
    public bool IsActive => Status == "Active";

    /// <summary>
    /// Active and known not to drain: a silo that is to hold its share of replicas and leaders. One that did not say
    /// whether it drains is left out of the balance either way: its share is unknown.
    /// </summary>
    public bool Serves => IsActive && !Draining && !DrainingUnknown;

    /// <summary>The status as a table prints it: the membership status, and "draining" when an operator drains the silo.</summary>
    public string DisplayStatus => Draining ? $"{Status} (draining)" : Status;
}
