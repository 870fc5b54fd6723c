using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Placement;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// A replica of the metadata group: the same machinery as a partition replica (<see cref="ReplicaGrain"/>), applying
/// <see cref="MetadataCommand"/>s to <see cref="MetadataState"/>, always with fsync durability.
/// </summary>
[Reentrant]
[ReplicaPlacement]
internal sealed class MetadataReplicaGrain(
    SiloStore siloStore, ILocalSiloDetails silo, LocalReplicas replicas, CatchUpThrottle catchUp, TimeProvider time, IOptions<PyralogOptions> options, ILogger<MetadataReplicaGrain> logger)
    : ReplicaGrain(siloStore, silo, replicas, catchUp, time, options, logger), IMetadataReplicaGrain
{
    private MetadataState _state = new();

    protected override bool IsMetadata => true;

    protected override bool SkipSync => false;

    // Followers answer ListLogs from their own applied state: they hear of each commit at once.
    protected override bool BroadcastCommit => true;

    public Task<bool> BootstrapAsync(long[] incarnations) => BootstrapGroupAsync(incarnations);

    public async Task<MetadataResult> ProposeAsync(byte[] command)
    {
        var driver = Driver ?? throw new InvalidOperationException($"metadata replica {Key} has no Raft node");
        MetadataCommand decoded;
        try
        {
            decoded = MetadataCommand.Decode(command);
        }
        catch (InvalidDataException e)
        {
            throw new ArgumentException(e.Message, nameof(command), e);
        }

        // Checked here, not only where it applies: a command that some replica could not apply would stop the group.
        if (_state.Refusal(decoded) is { } refusal)
        {
            return new MetadataResult(null, refusal);
        }

        var answer = await driver.ProposeAsync(command, Key, KeyOf).WaitAsync(Options.Replication.AppendTimeout).ConfigureAwait(true);
        return answer as MetadataResult ?? throw new InvalidOperationException("the metadata command produced no result");
    }

    public async Task<MetadataLog[]> QueryAsync()
    {
        var driver = Driver ?? throw new InvalidOperationException($"metadata replica {Key} has no Raft node");
        await driver.ReadIndexAsync(Key, KeyOf).WaitAsync(Options.Replication.AppendTimeout).ConfigureAwait(true);
        return [.. _state.Logs];
    }

    public Task<MetadataLogsView> QueryAppliedAsync(long knownIndex)
    {
        var driver = Driver ?? throw new InvalidOperationException($"metadata replica {Key} has no Raft node");
        driver.ThrowUnlessLeader(Key, KeyOf);
        var applied = _state.AppliedIndex;
        return Task.FromResult(new MetadataLogsView(applied, applied == knownIndex ? null : [.. _state.Logs], _state.Version));
    }

    public Task<MetadataLog[]> AppliedLogsAsync() => Task.FromResult<MetadataLog[]>([.. _state.Logs]);

    public Task<ReplicaStatus> GetStatusAsync() => Task.FromResult(Status(0, 0, 0));

    protected override Task OnStorageOpenAsync(CancellationToken cancellationToken)
    {
        _state = MetadataState.Open(Storage);
        return Task.CompletedTask;
    }

    protected override IReplicaStateMachine CreateMachine() => _state;

    protected override IRaftReplicaGrain CreatePeer(int replica) => GrainFactory.GetGrain<IMetadataReplicaGrain>(KeyOf(replica));

    private static string KeyOf(int replica) => ReplicaGrainKey.Of(0, 0, replica);
}
