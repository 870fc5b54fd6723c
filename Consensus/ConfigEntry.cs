namespace Pyralog.Consensus;

/// <summary>A configuration and the log index of the entry that carried it (the snapshot index for the base).</summary>
public readonly record struct ConfigEntry(long Index, ClusterConfig Config);
