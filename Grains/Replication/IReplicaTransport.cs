using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/// <summary>What a <see cref="ReplicaDriver"/> needs from the grain that hosts it.</summary>
internal interface IReplicaTransport
{
    /// <summary>Sends an envelope to another replica of the group (a one-way call; never awaited).</summary>
    void Send(long toRaftId, RaftEnvelope envelope);

    /// <summary>
    /// Sends from any thread (the store's commit thread: see <see cref="AfterPersistSends"/>) when the transport can
    /// keep the envelope in order with its other sends to that replica; false when it cannot (the caller then sends on
    /// the host's thread with <see cref="Send"/>). A host that cannot send off its own thread keeps this default.
    /// </summary>
    bool TrySendFromAnyThread(long toRaftId, RaftEnvelope envelope) => false;

    /// <summary>Starts or stops the tick timer.</summary>
    void SetTicking(bool on);

    /// <summary>This replica started or stopped leading its group.</summary>
    void LeadershipChanged(bool leads);

    /// <summary>The replica can no longer go on (its store failed, or a step failed mid-Ready): it must stop and reactivate from what is durable.</summary>
    void Failed(Exception error);
}
