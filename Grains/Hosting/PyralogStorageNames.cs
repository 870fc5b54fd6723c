namespace Pyralog.Grains.Hosting;

/// <summary>Names of the Orleans grain storage providers Pyralog uses; register a durable provider under these names to replace the in-memory default.</summary>
public static class PyralogStorageNames
{
    /// <summary>Obelisk leases and reservations (fenced by ETag).</summary>
    public const string Obelisk = "pyralog-obelisk";
}
