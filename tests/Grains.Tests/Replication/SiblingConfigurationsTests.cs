using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>When a voter of a leaderless group may leave: its siblings as far along name another incarnation of its slot.</summary>
public sealed class SiblingConfigurationsTests
{
    private const int Slot = 2;
    private const long Mine = 915;
    private const long Home = 800;

    private static ReplicaStatus Sibling(long lastIndex, params long[] voters) =>
        new() { Key = "0/0/x", Silo = "s", LastIndex = lastIndex, VoterIncarnations = voters };

    [Fact]
    public void Siblings_as_far_along_that_name_the_home_incarnation_let_the_stand_in_leave()
    {
        // The kill test's stuck metadata group: replica 2 ran as a stand-in (incarnation 915, log to 45) and both
        // siblings, further along, named its home incarnation 800.
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, 45, [Sibling(51, 733, 149, Home), Sibling(47, 733, 529, Home)]));
    }

    [Fact]
    public void One_sibling_that_names_this_incarnation_keeps_it()
    {
        Assert.False(SiblingConfigurations.NameAnotherVoter(Slot, Mine, 45, [Sibling(51, 733, 149, Home), Sibling(47, 733, 529, Mine)]));
    }

    [Fact]
    public void Siblings_behind_this_replica_or_silent_decide_nothing()
    {
        Assert.False(SiblingConfigurations.NameAnotherVoter(Slot, Mine, 45, [Sibling(44, 733, 149, Home), null]));
        Assert.False(SiblingConfigurations.NameAnotherVoter(Slot, Mine, 45, [null, null]));
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, 45, [Sibling(44, 733, 149, Mine), Sibling(45, 733, 149, Home)]));
    }

    [Fact]
    public void A_sibling_whose_configuration_has_no_voter_in_the_slot_names_another()
    {
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, 45, [Sibling(50, 733, 149)]));
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, 45, [Sibling(50, 733, 149, 0)]));
    }
}
