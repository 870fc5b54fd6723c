using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>What a replica's siblings' configurations say about its own slot (see <see cref="NameAnotherVoter"/>).</summary>
internal static class SiblingConfigurations
{
    /// <summary>
    /// Whether the siblings whose logs reach at least <paramref name="lastIndex"/> (this replica's log end) all name
    /// another incarnation than <paramref name="incarnation"/> as the voter of slot <paramref name="slot"/>, and at least
    /// one of them answered (null: no answer). Then no election counts this incarnation's vote: a sibling as far along
    /// holds this replica's configuration or a newer one, and elections count a vote only from the incarnation the
    /// candidate's configuration names.
    /// </summary>
    public static bool NameAnotherVoter(int slot, long incarnation, long lastIndex, IReadOnlyList<ReplicaStatus?> siblings)
    {
        var judged = 0;
        for (var i = 0; i < siblings.Count; i++)
        {
            if (siblings[i] is not { } sibling || sibling.LastIndex < lastIndex)
            {
                continue;
            }

            var named = sibling.VoterIncarnations;
            if (slot < named.Length && named[slot] == incarnation)
            {
                return false;
            }

            judged++;
        }

        return judged > 0;
    }
}
