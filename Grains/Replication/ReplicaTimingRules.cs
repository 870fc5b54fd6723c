using Microsoft.Extensions.Options;

namespace Pyralog.Grains.Replication;

/// <summary>
/// The rules of <see cref="ReplicaTiming"/> a range cannot express: intervals where 0 turns a feature off, and one
/// setting bounded by another. <c>name</c> is the section failures are named under.
/// </summary>
internal sealed class ReplicaTimingRules : IValidateOptions<ReplicaTiming>
{
    public ValidateOptionsResult Validate(string? name, ReplicaTiming options)
    {
        var builder = new ValidateOptionsResultBuilder();
        if (options.HomecomingInterval > options.HomecomingSweep)
        {
            builder.AddError($"{name}:HomecomingInterval must be at most HomecomingSweep ({options.HomecomingSweep}) (was {options.HomecomingInterval}).");
        }

        OffOrAtLeast(builder, $"{name}:LeaderBalanceInterval", options.LeaderBalanceInterval, TimeSpan.FromMilliseconds(100), "0 (off) or at least 100 ms");
        OffOrAtLeast(builder, $"{name}:ReplicaMoveInterval", options.ReplicaMoveInterval, TimeSpan.FromMilliseconds(100), "0 (off) or at least 100 ms");
        OffOrAtLeast(builder, $"{name}:RehomeAfter", options.RehomeAfter, TimeSpan.FromSeconds(1), "0 (never) or at least 1 s");
        if (options.CatchUpBytesPerSecond is > 0 and < 1 << 20)
        {
            // A Raft message to a learner carries up to 1 MiB: below that rate one message would wait seconds.
            builder.AddError($"{name}:CatchUpBytesPerSecond must be 0 (no limit) or at least 1 MiB/s, 1048576 (was {options.CatchUpBytesPerSecond}).");
        }

        return builder.Build();
    }

    private static void OffOrAtLeast(ValidateOptionsResultBuilder builder, string setting, TimeSpan value, TimeSpan minimum, string allowed)
    {
        if (value != TimeSpan.Zero && value < minimum)
        {
            builder.AddError($"{setting} must be {allowed} (was {value}).");
        }
    }
}
