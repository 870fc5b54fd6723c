namespace Pyralog.Client.Routing;

/// <summary>One replica's entry in <see cref="ReplicaRoutes"/>; its fields are guarded by that class's lock.</summary>
internal sealed class ReplicaRoute
{
    /// <summary>The silo hosting the replica at the last lookup; null when unknown.</summary>
    public SiloAddress? Silo { get; set; }

    /// <summary>When to look the replica up again (a <see cref="TimeProvider"/> timestamp; 0: at the next call).</summary>
    public long NextLookup { get; set; }

    public bool Looking { get; set; }
}
