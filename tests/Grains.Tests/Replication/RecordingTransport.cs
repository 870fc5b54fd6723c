using System.Collections.Concurrent;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A driver's host that keeps what it was told: the envelopes sent and whether its tick timer runs. With
/// <paramref name="sendsFromAnyThread"/> it also takes sends from other threads (the store's commit thread), kept apart
/// with the name of the thread that sent.
/// </summary>
internal sealed class RecordingTransport(bool sendsFromAnyThread = false) : IReplicaTransport
{
    public List<(long To, RaftEnvelope Envelope)> Sent { get; } = [];

    public ConcurrentQueue<(long To, RaftEnvelope Envelope, string? Thread)> SentFromAnyThread { get; } = new();

    public bool Ticking { get; private set; }

    public void Send(long toRaftId, RaftEnvelope envelope) => Sent.Add((toRaftId, envelope));

    public bool TrySendFromAnyThread(long toRaftId, RaftEnvelope envelope)
    {
        if (sendsFromAnyThread)
        {
            SentFromAnyThread.Enqueue((toRaftId, envelope, Thread.CurrentThread.Name));
        }

        return sendsFromAnyThread;
    }

    public void SetTicking(bool on) => Ticking = on;

    public void LeadershipChanged(bool leads)
    {
    }

    public void Failed(Exception error) => throw new InvalidOperationException("the store failed", error);
}
