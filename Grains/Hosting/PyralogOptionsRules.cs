using Microsoft.Extensions.Options;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

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

        if (options.Store.Durability != DurabilityMode.PerBatch)
        {
            // Each write batch says whether it needs its fdatasync (a log's durability, a Raft term or vote): a store that
            // syncs on a timer, or never, would acknowledge Fsync logs' appends and grant votes before they are durable.
            // An undefined number the binder took ("7") is refused here too.
            builder.AddError($"{path}:Store:Durability must be PerBatch in a silo (was {options.Store.Durability}): a log's durability is chosen per log (LogSettings.Durability), and Raft's terms and votes must be synced.");
        }

        if (!options.Store.BackgroundWork)
        {
            // Nothing in a silo calls the store's FlushAsync, CompactAsync or ApplyRetentionAsync: its background work is all that does.
            builder.AddError($"{path}:Store:BackgroundWork must be true in a silo (was false): without it the store never compacts nor applies retention, so compacted Raft logs, expired records and deleted logs never free disk, and memtables are flushed on the commit thread while every write waits.");
        }

        if (!Enum.IsDefined(options.Store.BackgroundPriority))
        {
            // The configuration binder takes a number for an enum ("7"); the store would refuse it only when it opens, naming PyramidOptions.
            builder.AddError($"{path}:Store:BackgroundPriority must be {Choices<BackgroundPriority>()} (was {options.Store.BackgroundPriority}).");
        }

        builder.AddResult(new ObeliskOptionsRules().Validate($"{path}:Obelisk", options.Obelisk));
        builder.AddResult(new ReplicaTimingRules().Validate($"{path}:Replication", options.Replication));
        return builder.Build();
    }

    /// <summary>"Normal, Low or Idle".</summary>
    private static string Choices<TEnum>()
        where TEnum : struct, Enum
    {
        var names = Enum.GetNames<TEnum>();
        return $"{string.Join(", ", names[..^1])} or {names[^1]}";
    }
}
