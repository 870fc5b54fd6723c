using System.Diagnostics.Metrics;

namespace Pyralog.Grains.Diagnostics;

/// <summary>Scarab ID issuing on this silo (meter <c>Pyralog.Obelisk</c>).</summary>
public static class ObeliskInstruments
{
    public const string MeterName = "Pyralog.Obelisk";

    private static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> IdsIssued = Meter.CreateCounter<long>(
        "pyralog.ids.issued", "{id}", "Scarab IDs issued by obelisks on this silo.");

    public static readonly Counter<long> LeaseRenewals = Meter.CreateCounter<long>(
        "pyralog.obelisk.lease.renewals", "{renewal}", "Lease writes (takes and renewals) by obelisks on this silo.");
}
