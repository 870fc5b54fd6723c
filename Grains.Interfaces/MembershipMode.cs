namespace Pyralog.Grains.Interfaces;

/// <summary>How silos find each other.</summary>
public enum MembershipMode
{
    /// <summary>One silo on this machine (the default).</summary>
    Localhost,

    /// <summary>Several silo processes on one machine; the one on the primary silo port is the primary.</summary>
    Development,

    /// <summary>A real multi-machine cluster with membership (and obelisk leases) in Redis.</summary>
    Redis,
}
