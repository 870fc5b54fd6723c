using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Interfaces.Validation;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Hosting;

/// <summary>What a silo hosting Pyralog is configured with (configuration section <c>Pyralog</c>).</summary>
public sealed class PyralogOptions
{
    public const string SectionName = "Pyralog";

    /// <summary>The annotations on these options and the nested ones, then the rules across settings.</summary>
    internal static readonly SettingsValidator<PyralogOptions> Validator =
        new(SectionName, configurationPath: true, new PyralogOptionsValidator(), new PyralogOptionsRules());

    /// <summary>Where this silo keeps its data (counter files, logs). Relative paths are resolved against the working directory.</summary>
    [Required(ErrorMessage = "{0} must name a directory")]
    public string DataDirectory { get; set; } = "data";

    [ValidateObjectMembers]
    public ObeliskOptions Obelisk { get; set; } = new();

    /// <summary>Tuning of the silo's store (section <c>Pyralog:Store</c>): memtable size, durability, block cache.</summary>
    [ValidateObjectMembers]
    public PyramidOptions Store { get; set; } = new();

    /// <summary>Raft timing of the replica grains (section <c>Pyralog:Replication</c>).</summary>
    [ValidateObjectMembers]
    public Replication.ReplicaTiming Replication { get; set; } = new();

    /// <summary>Replicas of the metadata group (1..7, default 3); they share silos while the cluster has fewer silos.</summary>
    [Range(1, ReplicaGrainKey.MaxReplicationFactor)]
    public int MetadataReplicas { get; set; } = 3;

    /// <summary>
    /// Found an empty metadata group although the cluster's grain storage records one founded (default false). Only for a
    /// cluster whose every silo's data was removed on purpose: the record otherwise keeps a silo that never ran in the
    /// cluster, back first and alone after a full stop, from founding an empty group (every log gone from listings, every
    /// partition's data dropped as a leftover once the other silos return). The silos' own marks of data still refuse.
    /// </summary>
    public bool RefoundMetadataGroup { get; set; }
}
