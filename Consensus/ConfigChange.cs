namespace Pyralog.Consensus;

/// <summary>A requested single-server membership change for <see cref="RaftNode.ProposeMembershipChange"/>.</summary>
public readonly record struct ConfigChange(ConfigChangeType Type, Member Member);
