using Microsoft.Extensions.Time.Testing;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

public class StrandedReplicasTests
{
    [Fact]
    public void A_stranded_replica_returns_here_until_it_activates_again()
    {
        var stranded = new StrandedReplicas(new FakeTimeProvider());
        Assert.False(stranded.ReturnsHere("1/0/2"));

        stranded.Add("1/0/2");
        Assert.True(stranded.ReturnsHere("1/0/2"));
        Assert.False(stranded.ReturnsHere("1/0/1"));

        stranded.Remove("1/0/2");
        Assert.False(stranded.ReturnsHere("1/0/2"));
    }

    [Fact]
    public void A_stranded_replica_is_placed_by_the_rule_again_once_the_return_window_passed()
    {
        var time = new FakeTimeProvider();
        var stranded = new StrandedReplicas(time);
        stranded.Add("0/0/1");

        time.Advance(StrandedReplicas.ReturnWithin - TimeSpan.FromTicks(1));
        Assert.True(stranded.ReturnsHere("0/0/1"));
        time.Advance(TimeSpan.FromTicks(1));
        Assert.False(stranded.ReturnsHere("0/0/1"));

        // Stranded again later: a new window.
        stranded.Add("0/0/1");
        Assert.True(stranded.ReturnsHere("0/0/1"));
    }
}
