namespace Pyralog.Client.Cluster;

/// <summary>
/// One silo in <see cref="ClusterStatus"/>: its address (as replicas report it, <c>ip:port@generation</c>), its name, its
/// membership status (Orleans' <c>SiloStatus</c>: Active, Joining, ShuttingDown, Stopping, Dead; <c>Unknown</c> for a
/// silo that replicas named but the membership table did not), and the partition replicas it hosts and leads.
/// </summary>
public sealed record SiloReport(string Address, string Name, string Status, int Replicas, int Leaders)
{
    public bool IsActive => Status == "Active";
}
