namespace Pyralog.Grains.Interfaces.Obelisk;

/// <summary>A snapshot of one obelisk activation, for operators and dashboards.</summary>
/// <param name="ObeliskId">The obelisk id, 0..1023.</param>
/// <param name="Silo">The silo the activation runs on.</param>
/// <param name="Fence">Increases by one with each activation that took the lease; a stale activation's writes are refused.</param>
/// <param name="LeaseExpires">Until when this activation may issue IDs without renewing its lease.</param>
/// <param name="ReservedUntil">Every ID this obelisk has issued or may issue before renewing lies before this time.</param>
/// <param name="IssuedIds">IDs issued by this activation.</param>
/// <param name="LeaseWait">How long this activation waited before taking the lease (zero when it did not wait).</param>
/// <param name="LeaseWaitReason">Why it waited; null when it did not.</param>
[GenerateSerializer]
[Immutable]
[Alias("pyralog.ObeliskStatus")]
public sealed record ObeliskStatus(
    [property: Id(0)] int ObeliskId,
    [property: Id(1)] string Silo,
    [property: Id(2)] ulong Fence,
    [property: Id(3)] DateTimeOffset LeaseExpires,
    [property: Id(4)] DateTimeOffset ReservedUntil,
    [property: Id(5)] long IssuedIds,
    [property: Id(6)] TimeSpan LeaseWait,
    [property: Id(7)] string? LeaseWaitReason);
