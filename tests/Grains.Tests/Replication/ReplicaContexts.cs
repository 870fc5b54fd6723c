using System.Collections.Concurrent;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// The activations of replica grains on one test silo, by key, as the last call to each found it: a test ends one with a
/// deactivation reason of its choice (the one Orleans gives when a dead silo held the directory entry, say).
/// </summary>
internal sealed class ReplicaContexts : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<string, IGrainContext> _byKey = new(StringComparer.Ordinal);

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.TargetContext.GrainId.Key.ToString() is { } key && ReplicaGrainKey.TryParse(key, out _))
        {
            _byKey[key] = context.TargetContext;
        }

        return context.Invoke();
    }

    public IGrainContext Of(string key) =>
        _byKey.TryGetValue(key, out var context) ? context : throw new InvalidOperationException($"no call reached replica {key} on this silo");
}
