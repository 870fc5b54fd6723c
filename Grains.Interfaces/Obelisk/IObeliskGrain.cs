namespace Pyralog.Grains.Interfaces.Obelisk;

/// <summary>
/// An obelisk node of the Pharaoh network, keyed by obelisk id 0..1023. It hands out Scarab IDs with no
/// consensus: IDs of one obelisk are strictly increasing and never repeat, across crashes, reactivation on
/// another silo and brief duplicate activations (see ObeliskGrain for the argument).
/// </summary>
[Alias("pyralog.IObeliskGrain")]
public interface IObeliskGrain : IGrainWithIntegerKey
{
    /// <summary>One Scarab ID.</summary>
    [Alias("NextAsync")]
    Task<ScarabId> NextAsync();

    /// <summary>A contiguous run of <paramref name="count"/> IDs (1..<see cref="ScarabIdBlock.MaxCount"/>) the caller hands out itself.</summary>
    [Alias("NextBlockAsync")]
    Task<ScarabIdBlock> NextBlockAsync(int count);

    /// <summary>What the obelisk is doing: where it runs, its fence, lease and reservation.</summary>
    [Alias("GetStatusAsync")]
    Task<ObeliskStatus> GetStatusAsync();
}
