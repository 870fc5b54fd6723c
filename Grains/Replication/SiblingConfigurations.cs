using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>What a replica's siblings' configurations say about its own slot (see <see cref="NameAnotherVoter"/>).</summary>
internal static class SiblingConfigurations
{
    /// <summary>
    /// Whether the siblings whose logs are at least as up to date as this replica's (last entry <paramref name="lastIndex"/>
    /// of term <paramref name="lastTerm"/>) all name another incarnation than <paramref name="incarnation"/> as the voter of slot <paramref name="slot"/>, and at least
    /// one of them answered (null: no answer). Then no election counts this incarnation's vote: a sibling as up to date
    /// holds this replica's configuration or a newer one, and elections count a vote only from the incarnation the
    /// candidate's configuration names.
    /// </summary>
    public static bool NameAnotherVoter(int slot, long incarnation, long lastTerm, long lastIndex, IReadOnlyList<ReplicaStatus?> siblings) =>
        Judge(slot, incarnation, lastTerm, lastIndex, siblings, out _) > 0;

    /// <summary>
    /// The incarnation that the siblings whose logs are at least as up to date as this replica's all name as the voter of
    /// slot <paramref name="slot"/>, when at least one answered, they agree, and it is neither <paramref name="incarnation"/>
    /// nor none; otherwise 0. A leaderless group that counts such an incarnation needs it to run again (ReplicaGrain.GiveWay).
    /// </summary>
    public static long NamedVoter(int slot, long incarnation, long lastTerm, long lastIndex, IReadOnlyList<ReplicaStatus?> siblings) =>
        Judge(slot, incarnation, lastTerm, lastIndex, siblings, out var named) > 0 ? named : 0;

    /// <summary>The siblings' answers to <paramref name="asks"/> (their status calls, each with its own timeout), in order;
    /// null for one that failed or timed out.</summary>
    public static async Task<ReplicaStatus?[]> AnswersAsync(IReadOnlyList<Task<ReplicaStatus>> asks)
    {
        try
        {
            await Task.WhenAll(asks);
        }
        catch
        {
            // Judged on the siblings that answered.
        }

        var statuses = new ReplicaStatus?[asks.Count];
        for (var i = 0; i < statuses.Length; i++)
        {
            statuses[i] = asks[i].IsCompletedSuccessfully ? asks[i].Result : null;
        }

        return statuses;
    }

    /// <summary>
    /// How many siblings at least as up to date as this replica were judged (0 if none answered or one names
    /// <paramref name="incarnation"/>), and the incarnation they all name for the slot (0 if they differ or name none).
    /// </summary>
    private static int Judge(int slot, long incarnation, long lastTerm, long lastIndex, IReadOnlyList<ReplicaStatus?> siblings, out long agreed)
    {
        agreed = 0;
        var judged = 0;
        var differ = false;
        for (var i = 0; i < siblings.Count; i++)
        {
            // Raft's comparison of logs: a sibling whose log ends in a later term, or as far in the same term, holds
            // every entry this replica's log holds that a leader could have committed, configurations included. A
            // sibling without a log knows no configuration: to a replica without one either (a new incarnation at home
            // whose group counts the incarnation it left elsewhere) it is not "as far along", or two such siblings
            // would each keep the other from finding the incarnation to give way to.
            if (siblings[i] is not { } sibling || sibling.LastIndex == 0 || sibling.LastTerm < lastTerm || (sibling.LastTerm == lastTerm && sibling.LastIndex < lastIndex))
            {
                continue;
            }

            var named = slot < sibling.VoterIncarnations.Length ? sibling.VoterIncarnations[slot] : 0;
            if (named == incarnation)
            {
                agreed = 0;
                return 0;
            }

            differ |= judged > 0 && named != agreed;
            agreed = named;
            judged++;
        }

        if (differ)
        {
            agreed = 0;
        }

        return judged;
    }
}
