namespace Pyralog.Grains.Hosting;

/// <summary>
/// What the obelisk lease storage the silo resolves is (whether registered before or after AddPyralog). Volatile (the in-memory default) means a lease record can
/// vanish with a crashed silo while its holder still runs, so a missing record must be treated as possibly held.
/// </summary>
internal sealed record ObeliskLeaseStorage(bool IsVolatile);
