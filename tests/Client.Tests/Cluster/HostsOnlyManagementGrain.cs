using System.Reflection;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>A management grain that answers <see cref="IManagementGrain.GetDetailedHosts"/> with a fixed table and throws on anything else.</summary>
public class HostsOnlyManagementGrain : DispatchProxy
{
    private MembershipEntry[] hosts = [];

    public static IManagementGrain Create(params (string Address, string Name, SiloStatus Status)[] silos)
    {
        var grain = Create<IManagementGrain, HostsOnlyManagementGrain>();
        ((HostsOnlyManagementGrain)(object)grain).hosts =
            [.. silos.Select(s => new MembershipEntry { SiloAddress = SiloAddress.FromParsableString(s.Address), SiloName = s.Name, Status = s.Status })];
        return grain;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        targetMethod?.Name == nameof(IManagementGrain.GetDetailedHosts)
            ? Task.FromResult(hosts)
            : throw new NotSupportedException(targetMethod?.Name);
}
