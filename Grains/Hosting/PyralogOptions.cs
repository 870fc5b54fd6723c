using Pyralog.Storage.Native;

namespace Pyralog.Grains.Hosting;

/// <summary>What a silo hosting Pyralog is configured with (configuration section <c>Pyralog</c>).</summary>
public sealed class PyralogOptions
{
    public const string SectionName = "Pyralog";

    /// <summary>Where this silo keeps its data (counter files, logs). Relative paths are resolved against the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    public ObeliskOptions Obelisk { get; set; } = new();

    /// <summary>Tuning of the silo's store (section <c>Pyralog:Store</c>): memtable size, durability, block cache.</summary>
    public PyramidOptions Store { get; set; } = new();

    /// <summary>Raft timing of the replica grains (section <c>Pyralog:Replication</c>).</summary>
    public Replication.ReplicaTiming Replication { get; set; } = new();

    /// <summary>Replicas of the metadata group (1..7, default 3); they share silos while the cluster has fewer silos.</summary>
    public int MetadataReplicas { get; set; } = 3;
}
