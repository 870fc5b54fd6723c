using Pyralog.Grains.Interfaces.Obelisk;

namespace Pyralog.Client.Obelisk;

/// <summary>Hands out Scarab IDs from blocks leased from obelisk grains. Thread-safe.</summary>
public interface IScarabIdGenerator
{
    /// <summary>The next ID: from memory almost always, waiting for a block only when the prefetched ones ran out.</summary>
    ValueTask<ScarabId> NextAsync(CancellationToken cancellationToken = default);

    /// <summary>The next ID if one is in memory now; never waits and never throws (a failed lease surfaces through <see cref="NextAsync"/>).</summary>
    bool TryNext(out ScarabId id);
}
