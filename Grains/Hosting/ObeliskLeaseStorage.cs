namespace Pyralog.Grains.Hosting;

/// <summary>
/// What AddPyralog found for the obelisk lease storage. Volatile (the in-memory default) means a lease record can
/// vanish with a crashed silo while its holder still runs, so a missing record must be treated as possibly held.
/// </summary>
internal sealed record ObeliskLeaseStorage(bool IsVolatile);
