using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// What the siblings of a leaderless group's replica say about its slot: whether it may leave (they name another
/// incarnation) and which incarnation it must give way to (they all name the same other one).
/// </summary>
public sealed class SiblingConfigurationsTests
{
    private const int Slot = 2;
    private const long Mine = 915;
    private const long Home = 800;
    private const long Term = 7;

    private static ReplicaStatus Sibling(long lastIndex, params long[] voters) => SiblingOfTerm(Term, lastIndex, voters);

    private static ReplicaStatus SiblingOfTerm(long lastTerm, long lastIndex, params long[] voters) =>
        new() { Key = "0/0/x", Silo = "s", LastTerm = lastTerm, LastIndex = lastIndex, VoterIncarnations = voters };

    [Fact]
    public void Siblings_as_far_along_that_name_the_home_incarnation_let_the_stand_in_leave()
    {
        // The kill test's stuck metadata group: replica 2 ran as a stand-in (incarnation 915, log to 45) and both
        // siblings, further along, named its home incarnation 800.
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [Sibling(51, 733, 149, Home), Sibling(47, 733, 529, Home)]));
    }

    [Fact]
    public void One_sibling_that_names_this_incarnation_keeps_it()
    {
        Assert.False(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [Sibling(51, 733, 149, Home), Sibling(47, 733, 529, Mine)]));
    }

    [Fact]
    public void Siblings_behind_this_replica_or_silent_decide_nothing()
    {
        Assert.False(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [Sibling(44, 733, 149, Home), null]));
        Assert.False(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [null, null]));
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [Sibling(44, 733, 149, Mine), Sibling(45, 733, 149, Home)]));
    }

    [Fact]
    public void A_sibling_whose_configuration_has_no_voter_in_the_slot_names_another()
    {
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [Sibling(50, 733, 149)]));
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [Sibling(50, 733, 149, 0)]));
    }

    [Fact]
    public void Siblings_as_far_along_that_agree_name_the_incarnation_to_give_way_to()
    {
        // The kill test's other stuck metadata group: slot 1 ran at home as incarnation 153 (log to 43) after its stand-in
        // 249 went home; slot 0 (log to 47) named the stand-in, slot 2 was a stale stand-in behind both.
        const long home = 153, standIn = 249;
        Assert.Equal(standIn, SiblingConfigurations.NamedVoter(1, home, Term, 43, [Sibling(47, 204, standIn, 271), Sibling(26, 204, 95, 112)]));
        Assert.Equal(standIn, SiblingConfigurations.NamedVoter(1, home, Term, 43, [Sibling(47, 204, standIn, 271), Sibling(44, 204, standIn, 0)]));
    }

    [Fact]
    public void Siblings_that_name_this_incarnation_none_or_different_ones_name_nothing_to_give_way_to()
    {
        Assert.Equal(0, SiblingConfigurations.NamedVoter(Slot, Mine, Term, 45, [Sibling(51, 733, 149, Home), Sibling(47, 733, 529, Mine)]));
        Assert.Equal(0, SiblingConfigurations.NamedVoter(Slot, Mine, Term, 45, [Sibling(51, 733, 149, Home), Sibling(47, 733, 529, 801)]));
        Assert.Equal(0, SiblingConfigurations.NamedVoter(Slot, Mine, Term, 45, [Sibling(51, 733, 149, Home), Sibling(47, 733, 529, 0)]));
        Assert.Equal(0, SiblingConfigurations.NamedVoter(Slot, Mine, Term, 45, [Sibling(50, 733, 149)]));
        Assert.Equal(0, SiblingConfigurations.NamedVoter(Slot, Mine, Term, 45, [Sibling(44, 733, 149, Home), null]));
        Assert.Equal(0, SiblingConfigurations.NamedVoter(Slot, Mine, Term, 45, [null, null]));
    }

    /// <summary>
    /// Two voters of a 3-voter group went home at once (their silos joined after the group was founded on the first one):
    /// each runs at home as a new incarnation without a log, and the one voter left counts their old incarnations, whose
    /// data is on the first silo. Each new incarnation must find the one to give way to; the other, holding no log,
    /// names none and decides nothing.
    /// </summary>
    [Fact]
    public void A_sibling_without_a_log_decides_nothing()
    {
        const long left = 311, atHome = 950;
        ReplicaStatus empty = new() { Key = "0/0/2", Silo = "s" };
        Assert.Equal(left, SiblingConfigurations.NamedVoter(1, atHome, 0, 0, [Sibling(3, 204, left, 312), empty]));
        Assert.True(SiblingConfigurations.NameAnotherVoter(1, atHome, 0, 0, [Sibling(3, 204, left, 312), empty]));
        Assert.Equal(0, SiblingConfigurations.NamedVoter(1, atHome, 0, 0, [empty, empty]));
        Assert.False(SiblingConfigurations.NameAnotherVoter(1, atHome, 0, 0, [empty, null]));
    }

    [Fact]
    public void Logs_are_compared_as_Raft_elections_compare_them_by_last_term_then_last_index()
    {
        // A sibling back on old data can hold a longer log of an older term (a dead leader's unacknowledged tail): its
        // configuration is stale, and it decides nothing; one whose log ends in a later term decides, however short.
        Assert.False(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [SiblingOfTerm(Term - 1, 60, 733, 149, Home)]));
        Assert.Equal(0, SiblingConfigurations.NamedVoter(Slot, Mine, Term, 45, [SiblingOfTerm(Term - 1, 60, 733, 149, Home)]));
        Assert.True(SiblingConfigurations.NameAnotherVoter(Slot, Mine, Term, 45, [SiblingOfTerm(Term + 1, 40, 733, 149, Home)]));
        Assert.Equal(Home, SiblingConfigurations.NamedVoter(Slot, Mine, Term, 45, [SiblingOfTerm(Term + 1, 40, 733, 149, Home)]));
    }
}
