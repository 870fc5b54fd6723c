namespace Pyralog.Grains.Replication;

/// <summary>Why a replica's data on this silo is a leftover (LeftoverReplicaSweep): <paramref name="Text"/> for the log, and
/// whether the replica is homed on another, active silo (its group may then still count this copy, and is asked first).</summary>
internal readonly record struct LeftoverReason(string Text, bool HomedElsewhere);
