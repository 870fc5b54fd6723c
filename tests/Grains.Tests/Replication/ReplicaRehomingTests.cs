using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Placement;
using Pyralog.Grains.Replication;
using Pyralog.Testing;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// When the mover re-homes a gone silo's replicas: RehomeAfter after it first saw the silo gone, counted afresh once it
/// stopped watching (another silo's mover led the metadata group meanwhile, and the silo may have been back in between).
/// </summary>
public sealed class ReplicaRehomingTests
{
    private static readonly TimeSpan RehomeAfter = TimeSpan.FromMinutes(10);
    private readonly FakeTimeProvider _time = new();
    private readonly AskedReplicas _grains = new();
    private readonly MetadataLog _log;
    private readonly ReplicaRehoming _rehoming;

    public ReplicaRehomingTests()
    {
        var homes = ReplicaHomes.Of([["a", "b", "c"]]);
        _log = new MetadataLog(new LogInfo(1, "log1", 1, 3, new LogSettings(), LogState.Active) { SlotMasks = homes.SlotMasks() }, null, homes);
        var options = Options.Create(new PyralogOptions { Replication = { RehomeAfter = RehomeAfter } });
        _rehoming = new ReplicaRehoming(_grains, new ReplicaHomeTable(_grains, _time, NullLogger<ReplicaHomeTable>.Instance), options, _time, NullLogger<ReplicaRehoming>.Instance);
    }

    [Fact]
    public async Task A_gone_silos_replica_is_looked_at_once_the_silo_has_been_gone_for_RehomeAfter()
    {
        await _rehoming.RehomeAsync([_log], Present("a", "b"), CancellationToken.None); // c first seen gone
        _time.Advance(RehomeAfter - TimeSpan.FromSeconds(1));
        await _rehoming.RehomeAsync([_log], Present("a", "b"), CancellationToken.None);
        Assert.Empty(_grains.Asked);

        _time.Advance(TimeSpan.FromSeconds(1));
        await _rehoming.RehomeAsync([_log], Present("a", "b"), CancellationToken.None);
        Assert.Equal(["1/0/2"], _grains.Asked);
    }

    [Fact]
    public async Task A_mover_that_stopped_watching_counts_RehomeAfter_again_from_when_it_next_sees_the_silo_gone()
    {
        await _rehoming.RehomeAsync([_log], Present("a", "b"), CancellationToken.None);
        _rehoming.Forget(); // another silo's mover leads; c may come back and go again meanwhile
        _time.Advance(RehomeAfter + TimeSpan.FromMinutes(1));
        await _rehoming.RehomeAsync([_log], Present("a", "b"), CancellationToken.None);
        Assert.Empty(_grains.Asked);

        _time.Advance(RehomeAfter);
        await _rehoming.RehomeAsync([_log], Present("a", "b"), CancellationToken.None);
        Assert.Equal(["1/0/2"], _grains.Asked);
    }

    private static HashSet<string> Present(params string[] silos) => new(silos, StringComparer.Ordinal);

    /// <summary>Records which replicas the re-homing asked for their status; each call fails as an unreachable replica's would.</summary>
    private sealed class AskedReplicas : ScriptedGrainFactory
    {
        public List<string> Asked { get; } = [];

        public override TGrainInterface GetGrain<TGrainInterface>(string primaryKey, string? grainClassNamePrefix = null)
        {
            Asked.Add(primaryKey);
            throw new TimeoutException($"replica {primaryKey} does not answer");
        }
    }
}
