namespace Pyralog.Grains.Replication;

/// <summary>How an envelope arrived on its <see cref="SiblingLink"/>.</summary>
internal enum EnvelopeArrival
{
    /// <summary>Next in send order (or from a sender that does not number its envelopes): handed on with any it freed.</summary>
    InOrder,

    /// <summary>Ahead of one sent before it: held until that one arrives or is given up.</summary>
    Ahead,

    /// <summary>After the gap it fills was given up: handed on at once (Raft drops what is stale).</summary>
    Late,
}
