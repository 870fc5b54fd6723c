using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A drain call waits out the drain timeout (up to its validated maximum) at every hop, so an operator whose drain cannot
/// hand off gets its result (StillLeading) rather than Orleans' 30 s response timeout while the drain goes on.
/// </summary>
public sealed class DrainResponseTimeoutTests
{
    [Fact]
    public void Each_hop_of_a_drain_waits_longer_than_the_longest_drain_and_the_outer_one_longer_than_the_inner()
    {
        var range = typeof(ReplicaTiming).GetProperty(nameof(ReplicaTiming.DrainTimeout))!.GetCustomAttributes(typeof(RangeAttribute), false).Cast<RangeAttribute>().Single();
        var longest = TimeSpan.Parse((string)range.Maximum, CultureInfo.InvariantCulture);
        var inner = Timeout(typeof(ISiloReportService), nameof(ISiloReportService.SetDrainingAsync));
        var outer = Timeout(typeof(IPyralogAdminGrain), nameof(IPyralogAdminGrain.DrainSiloAsync));
        Assert.True(inner > longest, $"SetDrainingAsync waits {inner}, the drain up to {longest}");
        Assert.True(outer > inner, $"DrainSiloAsync waits {outer}, the silo's SetDrainingAsync up to {inner}");
    }

    private static TimeSpan Timeout(Type grain, string method) =>
        grain.GetMethod(method)!.GetCustomAttributes(typeof(ResponseTimeoutAttribute), false).Cast<ResponseTimeoutAttribute>().SingleOrDefault()?.Timeout
        ?? TimeSpan.FromSeconds(30); // Orleans' default
}
