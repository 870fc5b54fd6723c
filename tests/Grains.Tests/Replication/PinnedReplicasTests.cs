using System.Net;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

public class PinnedReplicasTests
{
    private static readonly SiloAddress Here = SiloAddress.New(IPAddress.Loopback, 11111, 1);
    private static readonly SiloAddress There = SiloAddress.New(IPAddress.Loopback, 11112, 1);

    [Fact]
    public void A_pinned_replica_goes_to_its_silo_until_it_activates_here_again()
    {
        var pins = new PinnedReplicas(new FakeTimeProvider());
        Assert.Null(pins.SiloOf("1/0/2"));

        pins.Pin("1/0/2", Here);
        pins.Pin("1/0/0", There);
        Assert.Equal(Here, pins.SiloOf("1/0/2"));
        Assert.Equal(There, pins.SiloOf("1/0/0"));
        Assert.Null(pins.SiloOf("1/0/1"));

        pins.Unpin("1/0/2");
        Assert.Null(pins.SiloOf("1/0/2"));
        Assert.Equal(There, pins.SiloOf("1/0/0"));
    }

    [Fact]
    public void A_pin_ends_once_its_window_passed_and_a_later_pin_names_the_silo_anew()
    {
        var time = new FakeTimeProvider();
        var pins = new PinnedReplicas(time);
        pins.Pin("0/0/1", Here);

        time.Advance(PinnedReplicas.PinnedFor - TimeSpan.FromTicks(1));
        Assert.Equal(Here, pins.SiloOf("0/0/1"));
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Null(pins.SiloOf("0/0/1"));

        // Pinned again later, elsewhere: a new window, the new silo.
        pins.Pin("0/0/1", There);
        Assert.Equal(There, pins.SiloOf("0/0/1"));
    }
}
