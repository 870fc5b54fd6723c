using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// The silo's catch-up budget: a quarter of a second's bytes go at once, later reservations wait exactly until they are
/// paid for at the rate, in the order they were made, and an idle budget refills to one burst, never more.
/// </summary>
public sealed class CatchUpThrottleTests
{
    private const long Rate = 1 << 20; // 1 MiB/s: a quarter second is 256 KiB
    private const int Quarter = 256 << 10;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UnixEpoch);

    private CatchUpThrottle Throttle(long bytesPerSecond) =>
        new(Options.Create(new PyralogOptions { Replication = new ReplicaTiming { CatchUpBytesPerSecond = bytesPerSecond } }), _time);

    [Fact]
    public void A_burst_goes_at_once_and_what_follows_waits_until_it_is_paid_for()
    {
        var throttle = Throttle(Rate);
        Assert.True(throttle.Enabled);
        Assert.Equal(TimeSpan.Zero, throttle.Reserve(Quarter));
        Assert.Equal(TimeSpan.Zero, throttle.Reserve(Quarter)); // the burst: 0.25 s ahead at most
        Assert.Equal(TimeSpan.FromMilliseconds(250), throttle.Reserve(Quarter));
        Assert.Equal(TimeSpan.FromMilliseconds(500), throttle.Reserve(Quarter / 2));
        Assert.Equal(TimeSpan.FromMilliseconds(625), throttle.Reserve(1));

        // Time passes: each wait shrinks by as much.
        _time.Advance(TimeSpan.FromMilliseconds(600));
        Assert.Equal(TimeSpan.FromTicks(TimeSpan.FromMilliseconds(25).Ticks + Ticks(1)), throttle.Reserve(Quarter));
    }

    [Fact]
    public void An_idle_budget_refills_to_one_burst_and_no_more()
    {
        var throttle = Throttle(Rate);
        Assert.Equal(TimeSpan.Zero, throttle.Reserve(4 * Quarter)); // one large send goes at once, then its cost is owed
        Assert.Equal(TimeSpan.FromMilliseconds(750), throttle.Reserve(1));

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(TimeSpan.Zero, throttle.Reserve(Quarter));
        Assert.Equal(TimeSpan.Zero, throttle.Reserve(Quarter));
        Assert.Equal(TimeSpan.FromMilliseconds(250), throttle.Reserve(Quarter));
    }

    [Fact]
    public void Zero_means_no_limit()
    {
        var throttle = Throttle(0);
        Assert.False(throttle.Enabled);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(TimeSpan.Zero, throttle.Reserve(64 << 20));
        }
    }

    private static long Ticks(int bytes) => (long)((double)bytes / Rate * TimeSpan.TicksPerSecond);
}
