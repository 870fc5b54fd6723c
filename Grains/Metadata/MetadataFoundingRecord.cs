namespace Pyralog.Grains.Metadata;

/// <summary>
/// The cluster-wide record that the metadata group was founded, kept in the grain storage named
/// <see cref="Hosting.PyralogStorageNames.Cluster"/> (durable with Redis membership), outside every silo's store: it
/// outlives a full stop and a wiped data directory, which the silos' own marks do not (see <see cref="MetadataFounding"/>).
/// </summary>
[GenerateSerializer]
[Alias("pyralog.MetadataFoundingRecord")]
public sealed class MetadataFoundingRecord
{
    /// <summary>When the group was founded or, for a group founded by a build before this record, first seen founded.</summary>
    [Id(0)]
    public DateTimeOffset FoundedAt { get; set; }

    /// <summary>The silo that wrote the record, for operators.</summary>
    [Id(1)]
    public string RecordedBy { get; set; } = "";
}
