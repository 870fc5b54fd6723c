using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>A driver's host that keeps what it was told: the envelopes sent and whether its tick timer runs.</summary>
internal sealed class RecordingTransport : IReplicaTransport
{
    public List<(long To, RaftEnvelope Envelope)> Sent { get; } = [];

    public bool Ticking { get; private set; }

    public void Send(long toRaftId, RaftEnvelope envelope) => Sent.Add((toRaftId, envelope));

    public void SetTicking(bool on) => Ticking = on;

    public void LeadershipChanged(bool leads)
    {
    }

    public void Failed(Exception error) => throw new InvalidOperationException("the store failed", error);
}
