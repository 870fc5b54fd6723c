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

        builder.AddResult(new ObeliskOptionsRules().Validate($"{path}:Obelisk", options.Obelisk));
        builder.AddResult(new ReplicaTimingRules().Validate($"{path}:Replication", options.Replication));
        return builder.Build();
    }
}
