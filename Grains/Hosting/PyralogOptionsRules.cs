using Microsoft.Extensions.Options;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Hosting;

/// <summary>
/// The checks of <see cref="PyralogOptions"/> that data annotations cannot express: a usable path, and the nested
/// options' rules across settings. <c>name</c> is the path failures are named under (<c>Pyralog</c>).
/// </summary>
internal sealed class PyralogOptionsRules : IValidateOptions<PyralogOptions>
{
    public ValidateOptionsResult Validate(string? name, PyralogOptions options)
    {
        var path = string.IsNullOrEmpty(name) ? PyralogOptions.SectionName : name;
        var builder = new ValidateOptionsResultBuilder();
        if (options.DataDirectory is { } directory && directory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            builder.AddError($"{path}:DataDirectory '{directory}' contains characters that are not allowed in a path.");
        }

        if (options.Store.Durability != Pyralog.Storage.Native.DurabilityMode.PerBatch)
        {
            // Each write batch says whether it needs its fdatasync (a log's durability, a Raft term or vote): a store that
            // syncs on a timer, or never, would acknowledge Fsync logs' appends and grant votes before they are durable.
            builder.AddError($"{path}:Store:Durability must be PerBatch in a silo (was {options.Store.Durability}): a log's durability is chosen per log (LogSettings.Durability), and Raft's terms and votes must be synced.");
        }

        builder.AddResult(new ObeliskOptionsRules().Validate($"{path}:Obelisk", options.Obelisk));
        builder.AddResult(new ReplicaTimingRules().Validate($"{path}:Replication", options.Replication));
        return builder.Build();
    }
}
