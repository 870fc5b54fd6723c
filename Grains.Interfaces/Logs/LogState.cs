namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>Where a log is in its life.</summary>
public enum LogState : byte
{
    /// <summary>Recorded in the metadata group; its partitions' Raft groups are being bootstrapped.</summary>
    Creating = 0,

    /// <summary>Every partition's group is bootstrapped: appends and reads work.</summary>
    Active = 1,
}
