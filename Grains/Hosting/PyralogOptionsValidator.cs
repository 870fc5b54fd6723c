using Microsoft.Extensions.Options;

namespace Pyralog.Grains.Hosting;

/// <summary>Checks <see cref="PyralogOptions"/> at start-up and names every value that is wrong.</summary>
internal sealed class PyralogOptionsValidator : IValidateOptions<PyralogOptions>
{
    public ValidateOptionsResult Validate(string? name, PyralogOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            failures.Add("Pyralog:DataDirectory must name a directory.");
        }
        else if (options.DataDirectory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            failures.Add($"Pyralog:DataDirectory '{options.DataDirectory}' contains characters that are not allowed in a path.");
        }

        var o = options.Obelisk;
        if (o.LeaseDuration < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"Pyralog:Obelisk:LeaseDuration must be at least 100 ms (was {o.LeaseDuration}).");
        }

        if (o.MaxClockSkew < TimeSpan.Zero || o.MaxClockSkew >= o.LeaseDuration / 2)
        {
            // A holder renews at half its lease; the skew must fit in the other half for leases to order activations.
            failures.Add($"Pyralog:Obelisk:MaxClockSkew must be at least 0 and shorter than half of LeaseDuration (was {o.MaxClockSkew}).");
        }

        if (o.MaxClockLead < TimeSpan.FromMilliseconds(1) || o.MaxClockLead > TimeSpan.FromSeconds(1))
        {
            failures.Add($"Pyralog:Obelisk:MaxClockLead must be between 1 ms and 1 s (was {o.MaxClockLead}).");
        }

        if (o.ReserveAhead < TimeSpan.FromMilliseconds(1) || o.ReserveAhead > TimeSpan.FromMinutes(1))
        {
            failures.Add($"Pyralog:Obelisk:ReserveAhead must be between 1 ms and 1 minute (was {o.ReserveAhead}).");
        }

        var r = options.Replication;
        if (r.TickInterval < TimeSpan.FromMilliseconds(1) || r.TickInterval > TimeSpan.FromSeconds(10))
        {
            failures.Add($"Pyralog:Replication:TickInterval must be between 1 ms and 10 s (was {r.TickInterval}).");
        }

        if (r.ElectionTicks is < 3 or > 1000)
        {
            failures.Add($"Pyralog:Replication:ElectionTicks must be in 3..1000 (was {r.ElectionTicks}).");
        }

        if (r.AppendTimeout < TimeSpan.FromMilliseconds(10))
        {
            failures.Add($"Pyralog:Replication:AppendTimeout must be at least 10 ms (was {r.AppendTimeout}).");
        }

        if (r.HomecomingInterval < TimeSpan.FromMilliseconds(10) || r.HomecomingInterval > r.HomecomingSweep)
        {
            failures.Add($"Pyralog:Replication:HomecomingInterval must be at least 10 ms and at most HomecomingSweep (was {r.HomecomingInterval}).");
        }

        if (r.DrainTimeout < TimeSpan.Zero || r.DrainTimeout > TimeSpan.FromMinutes(10))
        {
            failures.Add($"Pyralog:Replication:DrainTimeout must be between 0 (no hand-off) and 10 minutes (was {r.DrainTimeout}).");
        }

        if (r.LeaderBalanceInterval != TimeSpan.Zero && r.LeaderBalanceInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"Pyralog:Replication:LeaderBalanceInterval must be 0 (off) or at least 100 ms (was {r.LeaderBalanceInterval}).");
        }

        if (r.LeaderBalanceMoves is < 1 or > 10_000)
        {
            failures.Add($"Pyralog:Replication:LeaderBalanceMoves must be in 1..10000 (was {r.LeaderBalanceMoves}).");
        }

        if (r.ReplicaMoveInterval != TimeSpan.Zero && r.ReplicaMoveInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add($"Pyralog:Replication:ReplicaMoveInterval must be 0 (off) or at least 100 ms (was {r.ReplicaMoveInterval}).");
        }

        if (r.ReplicaMoves is < 1 or > 1000)
        {
            failures.Add($"Pyralog:Replication:ReplicaMoves must be in 1..1000 (was {r.ReplicaMoves}).");
        }

        if (r.MoveOffTimeout < TimeSpan.Zero || r.MoveOffTimeout > TimeSpan.FromHours(1))
        {
            failures.Add($"Pyralog:Replication:MoveOffTimeout must be between 0 (a stop moves no replica) and 1 hour (was {r.MoveOffTimeout}).");
        }

        if (r.RehomeAfter != TimeSpan.Zero && r.RehomeAfter < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Pyralog:Replication:RehomeAfter must be 0 (never) or at least 1 s (was {r.RehomeAfter}).");
        }

        if (r.ReplicaMoveTimeout < TimeSpan.FromSeconds(1))
        {
            failures.Add($"Pyralog:Replication:ReplicaMoveTimeout must be at least 1 s (was {r.ReplicaMoveTimeout}).");
        }

        if (options.MetadataReplicas is < 1 or > Interfaces.Logs.ReplicaGrainKey.MaxReplicationFactor)
        {
            failures.Add($"Pyralog:MetadataReplicas must be in 1..{Interfaces.Logs.ReplicaGrainKey.MaxReplicationFactor} (was {options.MetadataReplicas}).");
        }

        try
        {
            options.Store.Validate();
        }
        catch (ArgumentException e)
        {
            failures.Add($"Pyralog:Store: {e.Message}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
