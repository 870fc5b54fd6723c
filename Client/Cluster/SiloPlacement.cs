namespace Pyralog.Client.Cluster;

/// <summary>
/// One silo in <see cref="ClusterStatus"/>: its address (as replicas report it, <c>ip:port@generation</c>), its name, its
/// membership status (Orleans' <c>SiloStatus</c>: Active, Joining, ShuttingDown, Stopping, Dead; <c>Unknown</c> for a
/// silo that replicas named but the membership table did not), whether an operator drains it (<c>pyralog cluster
/// drain</c>: it is to hold nothing), and the partition replicas it hosts and the groups it leads.
/// </summary>
public sealed record SiloPlacement(string Address, string Name, string Status, int Replicas, int Leaders, bool Draining = false)
{
    public bool IsActive => Status == "Active";

    /// <summary>Active and not draining: a silo that is to hold its share of replicas and leaders.</summary>
    public bool Serves => IsActive && !Draining;

    /// <summary>The status as a table prints it: the membership status, and "draining" when an operator drains the silo.</summary>
    public string DisplayStatus => Draining ? $"{Status} (draining)" : Status;
}
