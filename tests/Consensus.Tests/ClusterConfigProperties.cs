using FsCheck.Xunit;
using Pyralog.Consensus;

namespace Pyralog.Consensus.Tests;

/// <summary>Properties of configurations: encoding round-trips, and every accepted change is a single-server change.</summary>
public sealed class ClusterConfigProperties
{
    [Property(MaxTest = 500)]
    public bool EveryAcceptedChangeMovesAtMostOneVoter(byte[] script)
    {
        var config = ClusterConfig.Of(1, 2, 3);
        foreach (var b in script)
        {
            var member = new Member(1 + b % 6, 1 + b / 6 % 3, AutoPromote: b % 2 == 0);
            var change = new ConfigChange((ConfigChangeType)(b / 18 % 5), member);
            var next = config.Apply(change, out var error);
            if (next is null)
            {
                if (error is null)
                {
                    return false;
                }

                continue;
            }

            var before = config.Voters.ToHashSet();
            var after = next.Voters.ToHashSet();
            before.SymmetricExceptWith(after);
            if (before.Count > 1)
            {
                return false;
            }

            var decoded = ClusterConfig.Decode(next.Encode());
            if (!decoded.Voters.SequenceEqual(next.Voters) || !decoded.Learners.SequenceEqual(next.Learners))
            {
                return false;
            }

            config = next;
        }

        return true;
    }
}
