namespace Pyralog.Grains.Hosting;

/// <summary>Names of the Orleans grain storage providers Pyralog uses; register a durable provider under these names to replace the in-memory default.</summary>
public static class PyralogStorageNames
{
    /// <summary>Obelisk leases and reservations (fenced by ETag).</summary>
    public const string Obelisk = "pyralog-obelisk";

    /// <summary>
    /// Cluster-wide records that must outlive every silo's data: that the metadata group was founded. Unless a provider is
    /// registered under this name, the one named <see cref="Obelisk"/> serves it (both are durable or neither is).
    /// </summary>
    public const string Cluster = "pyralog-cluster";
}
