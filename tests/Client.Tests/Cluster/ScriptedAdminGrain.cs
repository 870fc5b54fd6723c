using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// An admin grain answering the cluster status's questions from fixed values, each of which may instead be an exception
/// (as the real grain throws when the metadata group has no leader or a describe times out).
/// </summary>
public sealed class ScriptedAdminGrain(PartitionDescription metadataGroup) : IPyralogAdminGrain
{
    public Func<LogInfo[]> Logs { get; init; } = () => [];

    public Func<string, LogDescription> Describe { get; init; } = name => throw new InvalidOperationException($"no log {name}");

    public string[] Draining { get; init; } = [];

    public string[] Unanswered { get; init; } = [];

    /// <summary>Whether this grain answers as a silo of a build without <see cref="DrainStatesAsync"/> does: it could not read the call.</summary>
    public bool EarlierBuild { get; init; }

    public Task<LogInfo[]> ListLogsAsync() => Task.FromResult(Logs());

    public Task<LogDescription> DescribeLogAsync(string name) => Task.FromResult(Describe(name));

    public Task<PartitionDescription> DescribeMetadataGroupAsync() => Task.FromResult(metadataGroup);

    public Task<string[]> DrainingSilosAsync() => Task.FromResult(Draining);

    public Task<SiloDrainStates> DrainStatesAsync() => EarlierBuild
        ? throw new InvalidOperationException("could not deserialize the request: unknown type Invokable_IPyralogAdminGrain_GrainReference_DrainStatesAsync")
        : Task.FromResult(new SiloDrainStates(Draining, Unanswered));

    public Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings? settings = null) => throw new NotSupportedException();

    public Task DeleteLogAsync(string name) => throw new NotSupportedException();

    public Task<LogInfo?> GetLogAsync(string name) => throw new NotSupportedException();

    public Task<SiloDrainResult> DrainSiloAsync(string silo, bool drain) => throw new NotSupportedException();
}
