namespace Pyralog.Grains.Obelisk;

/// <summary>The shared, ETag-fenced record of which activation of an obelisk may issue IDs, and up to when.</summary>
[GenerateSerializer]
[Alias("pyralog.ObeliskLease")]
public sealed class ObeliskLease
{
    /// <summary>Incremented by every activation that takes the lease.</summary>
    [Id(0)]
    public ulong Fence { get; set; }

    /// <summary>The silo of the holder, for operators.</summary>
    [Id(1)]
    public string Holder { get; set; } = "";

    /// <summary>Wall-clock Unix ms until which the holder may issue; 0 once released.</summary>
    [Id(2)]
    public long LeaseExpiresUnixMs { get; set; }

    /// <summary>Every ID any holder issued or may issue without writing this record again has a timestamp (ms since the Pyralog epoch) below this.</summary>
    [Id(3)]
    public ulong ReservedUntilMs { get; set; }
}
